// Versioned schema migrations for a Durable Object's SQLite storage.

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/**
 * Applies the migrations newer than the stored schema version, each in its own transaction, in
 * order. Call it inside blockConcurrencyWhile so no request sees a half-migrated object.
 * Returns the schema version after migrating.
 */
export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS _schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const row = sql.exec<{ v: number | null }>('SELECT max(version) AS v FROM _schema').one();
  let current = row.v ?? 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    storage.transactionSync(() => {
      for (const statement of m.statements) sql.exec(statement);
      sql.exec('INSERT INTO _schema (version, name, applied_at) VALUES (?, ?, ?)', m.version, m.name, Date.now());
    });
    current = m.version;
  }
  return current;
}
