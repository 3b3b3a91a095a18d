export { Store, DB_FILE } from './store';
export { openDatabase, mapSqliteError, migrate, schemaVersion, type Db, type OpenDbOptions } from './db';
export { MIGRATIONS, type Migration } from './migrations';
export { chooseSqliteBinding } from './native-binding';
export { defaultDataDir, dataDirFromArgs } from './data-dir';
