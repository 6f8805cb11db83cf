/** The `attack · target · expected · got` table the security suites print (✗ marks a miss). */
export interface AttackRow {
  attack: string;
  target: string;
  expected: string;
  got: string;
  ok: boolean;
}

export class AttackTable {
  readonly rows: AttackRow[] = [];

  record(attack: string, target: string, expected: string, got: string, ok: boolean): AttackRow {
    const row = { attack, target, expected, got, ok };
    this.rows.push(row);
    return row;
  }

  /** The misses among rows whose target satisfies `where` (all rows by default). */
  misses(where: (row: AttackRow) => boolean = () => true): AttackRow[] {
    return this.rows.filter((row) => where(row) && !row.ok);
  }

  print(): void {
    if (this.rows.length === 0) return;
    const width = Math.max(...this.rows.map((r) => r.attack.length));
    const target = Math.max(...this.rows.map((r) => r.target.length));
    console.log(
      [
        "attack · target · expected · got",
        ...this.rows.map((r) => `${r.ok ? " " : "✗"} ${r.attack.padEnd(width)} · ${r.target.padEnd(target)} · ${r.expected} · ${r.got}`),
      ].join("\n"),
    );
  }
}
