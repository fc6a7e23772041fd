/*
 * migrate: applies the SQL migrations compiled into the binary (sql/NNN_*.sql,
 * see embed.h) in name order.  Runs at kilnd start-up on a blocking
 * connection, under a PostgreSQL advisory lock, so two kilnd processes
 * starting at once apply each migration exactly once.  Each file runs in its
 * own transaction together with its row in schema_migrations.
 */
#ifndef KILN_MIGRATE_H
#define KILN_MIGRATE_H

#include <stddef.h>
#include <libpq-fe.h>

/*
 * Apply pending migrations on conn (blocking).  Returns the number applied,
 * or -1 with a reason naming the migration in err.
 */
int	migrate_apply(PGconn *conn, char *err, size_t errsz);

#endif
