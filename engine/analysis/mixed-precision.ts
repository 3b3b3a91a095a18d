export interface MixedPrecisionReport { met: boolean; summary?: string[] }
