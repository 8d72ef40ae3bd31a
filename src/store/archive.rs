//! Room archives: batched multi-row inserts (each sqlx statement is a
//! hand-off to the database's worker, so a row per statement costs
//! 20–90 µs where a row in a multi-row insert costs a few µs),
//! queries with XEP-0059 paging, and retention.

use sqlx::Row;

use super::{Store, StoreError};

/// One archived message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub bridge: String,
    pub user: String,
    pub room: String,
    pub seq: i64,
    pub nick: String,
    pub body: String,
    pub action: bool,
}

/// What a query asks for: a time window (microseconds), an occupant, and
/// a page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub nick: Option<String>,
    pub after: Option<i64>,
    pub before: Option<i64>,
    /// Take the last rows of the window rather than the first.
    pub last_page: bool,
    pub max: usize,
}

const COLUMNS: usize = 7;
/// Rows a statement: bigger statements save little, and one transaction
/// still makes the batch a single commit.
const ROWS_PER_STATEMENT: usize = 32;

/// `sqlite` gets anonymous `?` parameters: SQLite finds a named one
/// (`$1`) by a linear scan of the statement's names, at every bind.
fn insert_sql(rows: usize, sqlite: bool) -> String {
    let mut sql = String::from(
        "INSERT INTO archive (bridge, user_jid, room, seq, nick, body, action) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLUMNS {
            if c > 0 {
                sql.push_str(", ");
            }
            if sqlite {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", i * COLUMNS + c + 1));
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (bridge, user_jid, room, seq) DO NOTHING");
    sql
}

impl Store {
    /// Writes a batch in one transaction.
    pub async fn archive_batch(&self, rows: &[Archived]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let full = insert_sql(ROWS_PER_STATEMENT, self.sqlite);
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let partial;
            let sql = if chunk.len() == ROWS_PER_STATEMENT {
                &full
            } else {
                partial = insert_sql(chunk.len(), self.sqlite);
                &partial
            };
            let mut query = sqlx::query(sql);
            for row in chunk {
                query = query
                    .bind(&row.bridge)
                    .bind(&row.user)
                    .bind(&row.room)
                    .bind(row.seq)
                    .bind(&row.nick)
                    .bind(&row.body)
                    .bind(i64::from(row.action));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A page of a user's archive of a room, oldest first, and whether it
    /// reaches the end of the window in the direction read.
    pub async fn archive_query(
        &self,
        bridge: &str,
        user: &str,
        room: &str,
        filter: &Filter,
    ) -> Result<(Vec<Archived>, bool), StoreError> {
        let mut sql = String::from(
            "SELECT seq, nick, body, action FROM archive WHERE bridge = $1 AND user_jid = $2 AND room = $3",
        );
        let mut values: Vec<i64> = Vec::new();
        let mut next = 4;
        let mut bound = |sql: &mut String, cond: &str, v: i64| {
            sql.push_str(&format!(" AND {cond} ${next}"));
            next += 1;
            values.push(v);
        };
        if let Some(v) = filter.start {
            bound(&mut sql, "seq >=", v);
        }
        if let Some(v) = filter.end {
            bound(&mut sql, "seq <=", v);
        }
        if let Some(v) = filter.after {
            bound(&mut sql, "seq >", v);
        }
        if let Some(v) = filter.before {
            bound(&mut sql, "seq <", v);
        }
        if filter.nick.is_some() {
            sql.push_str(&format!(" AND nick = ${next}"));
        }
        let backwards = filter.last_page || filter.before.is_some();
        sql.push_str(if backwards {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq ASC"
        });
        // One more than asked, to know whether the window goes on.
        sql.push_str(&format!(" LIMIT {}", filter.max + 1));
        let mut query = sqlx::query(&sql).bind(bridge).bind(user).bind(room);
        for v in values {
            query = query.bind(v);
        }
        if let Some(nick) = &filter.nick {
            query = query.bind(nick);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let complete = rows.len() <= filter.max;
        let mut out: Vec<Archived> = rows
            .iter()
            .take(filter.max)
            .map(|r| {
                Ok(Archived {
                    bridge: bridge.to_owned(),
                    user: user.to_owned(),
                    room: room.to_owned(),
                    seq: r.try_get(0)?,
                    nick: r.try_get(1)?,
                    body: r.try_get(2)?,
                    action: r.try_get::<i64, _>(3)? != 0,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        if backwards {
            out.reverse();
        }
        Ok((out, complete))
    }

    /// Drops rows older than `before_seq`, and beyond `keep` rows per
    /// (user, room).
    pub async fn archive_prune(&self, before_seq: i64, keep: i64) -> Result<u64, StoreError> {
        let old = sqlx::query("DELETE FROM archive WHERE seq < $1")
            .bind(before_seq)
            .execute(&self.pool)
            .await?
            .rows_affected();
        // The oldest row to keep is the `keep`-th newest of its room.
        let over = sqlx::query(
            "DELETE FROM archive WHERE seq < (SELECT a.seq FROM archive a \
             WHERE a.bridge = archive.bridge AND a.user_jid = archive.user_jid AND a.room = archive.room \
             ORDER BY a.seq DESC LIMIT 1 OFFSET $1)",
        )
        .bind((keep - 1).max(0))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(old + over)
    }
}
