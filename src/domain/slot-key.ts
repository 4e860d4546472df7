// A slot key names one game on one calendar day: every inventory change of that key runs in one
// booking partition, one job at a time. The hash must never change between releases: a key that
// moved partition mid-deploy could run in two partitions at once.

export function slotKey(gameId: number, bookDate: string): string {
  return `${gameId}:${bookDate}`;
}

/** FNV-1a (32 bit): stable across processes, versions and platforms, and spreads short keys well. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function partitionOf(key: string, partitions: number): number {
  return stableHash(key) % partitions;
}
