// SQL text the programs build from configuration (the scans table's schema and name, scratch database
// names): identifiers are always quoted here, never pasted, so a configured name cannot break out.

/** A PostgreSQL identifier, quoted: `"` is doubled, so `a"; DROP ...` stays one identifier. */
export const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
