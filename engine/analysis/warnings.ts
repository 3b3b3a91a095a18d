export interface QualityWarning { message: string }
