// Byte counts as messages, notices and logs print them: binary units (GiB = 2^30 bytes, MiB = 2^20) with
// a fixed number of decimals, so a size reads the same in every message that names one.

export const GIB = 2 ** 30;
export const MIB = 2 ** 20;

/** `bytes` in GiB, e.g. formatGiB(1.5 * 2 ** 30) = "1.50 GiB". */
export function formatGiB(bytes: number, decimals = 2): string {
  return `${(bytes / GIB).toFixed(decimals)} GiB`;
}

/** `bytes` in MiB, e.g. formatMiB(3 * 2 ** 20) = "3.00 MiB". */
export function formatMiB(bytes: number, decimals = 2): string {
  return `${(bytes / MIB).toFixed(decimals)} MiB`;
}
