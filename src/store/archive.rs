//! Room archives: rows numbered by their (bridge, user, room) archive,
//! batched multi-row inserts (each sqlx statement is a
//! hand-off to the database's worker, so a row per statement costs
//! 20–90 µs where a row in a multi-row insert costs a few µs),
//! queries with XEP-0059 paging, and retention.

use sqlx::Row;

use super::{of_room, remove_with_children, Store, StoreError};

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
    /// The foreign network's id of the line, if it gives one.
    pub foreign_id: Option<String>,
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

const COLUMNS: usize = 6;
/// Rows a statement: bigger statements save little, and one transaction
/// still makes the batch a single commit.
const ROWS_PER_STATEMENT: usize = 32;

/// `sqlite` gets anonymous `?` parameters: SQLite finds a named one
/// (`$1`) by a linear scan of the statement's names, at every bind.
fn insert_sql(rows: usize, sqlite: bool) -> String {
    let mut sql = String::from(
        "INSERT INTO archive_rows (room_id, seq, nick, body, action, foreign_id) VALUES ",
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
    // Either key: the same archive id, or the same foreign id (a replay).
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

/// How far (µs) a replayed line without a foreign id may be from its
/// first archiving to count as the same: the server's time has whole
/// seconds at worst, and the line arrived live a little after it.
const REPLAY_WINDOW: i64 = 3_000_000;

/// An archive's (bridge, user, room).
pub(super) type ArchiveKey = (String, String, String);

/// Archive numbers remembered before the cache starts over.
const ROOM_IDS_REMEMBERED: usize = 100_000;

impl Store {
    /// The number of the (bridge, user, room) archive, made on first use.
    async fn archive_room_id(&self, key: &ArchiveKey) -> Result<i64, StoreError> {
        if let Some(id) = self.lock_room_ids().get(key) {
            return Ok(*id);
        }
        let select =
            "SELECT id FROM archive_rooms WHERE bridge = $1 AND user_jid = $2 AND room = $3";
        let key_ref = (key.0.as_str(), key.1.as_str(), key.2.as_str());
        let found: Option<i64> = of_room(select, key_ref)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        let id = match found {
            Some(id) => id,
            None => {
                // Random, so that instances sharing a database need no
                // coordination; another instance may win the race.
                of_room(
                    "INSERT INTO archive_rooms (bridge, user_jid, room, id) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (bridge, user_jid, room) DO NOTHING",
                    key_ref,
                )
                .bind((rand::random::<u64>() >> 1) as i64)
                .execute(&self.pool)
                .await?;
                of_room(select, key_ref)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get(0)?
            }
        };
        let mut ids = self.lock_room_ids();
        if ids.len() >= ROOM_IDS_REMEMBERED {
            ids.clear();
        }
        ids.insert(key.clone(), id);
        Ok(id)
    }

    /// Writes a batch in one transaction.
    pub async fn archive_batch(&self, rows: &[Archived]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut numbered = Vec::with_capacity(rows.len());
        for row in rows {
            let key = (row.bridge.clone(), row.user.clone(), row.room.clone());
            numbered.push((self.archive_room_id(&key).await?, row));
        }
        let full = insert_sql(ROWS_PER_STATEMENT, self.sqlite);
        let mut tx = self.pool.begin().await?;
        self.fenced(&mut tx).await?;
        for chunk in numbered.chunks(ROWS_PER_STATEMENT) {
            let partial;
            let sql = if chunk.len() == ROWS_PER_STATEMENT {
                &full
            } else {
                partial = insert_sql(chunk.len(), self.sqlite);
                &partial
            };
            let mut query = sqlx::query(sql);
            for (room_id, row) in chunk {
                query = query
                    .bind(*room_id)
                    .bind(row.seq)
                    .bind(&row.nick)
                    .bind(&row.body)
                    .bind(i64::from(row.action))
                    .bind(row.foreign_id.as_deref());
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
            "SELECT r.seq, r.nick, r.body, r.action FROM archive_rows r \
             JOIN archive_rooms m ON r.room_id = m.id \
             WHERE m.bridge = $1 AND m.user_jid = $2 AND m.room = $3",
        );
        let mut values: Vec<i64> = Vec::new();
        let mut next = 4;
        let mut bound = |sql: &mut String, cond: &str, v: i64| {
            sql.push_str(&format!(" AND r.{cond} ${next}"));
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
            sql.push_str(&format!(" AND r.nick = ${next}"));
        }
        let backwards = filter.last_page || filter.before.is_some();
        sql.push_str(if backwards {
            " ORDER BY r.seq DESC"
        } else {
            " ORDER BY r.seq ASC"
        });
        // One more than asked, to know whether the window goes on.
        sql.push_str(&format!(" LIMIT {}", filter.max + 1));
        let mut query = of_room(&sql, (bridge, user, room));
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
                    foreign_id: None,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        if backwards {
            out.reverse();
        }
        Ok((out, complete))
    }

    /// One row of an archive, by archive id.
    pub async fn archive_row(
        &self,
        (bridge, user, room): (&str, &str, &str),
        seq: i64,
    ) -> Result<Option<Archived>, StoreError> {
        let row = of_room(
            "SELECT r.nick, r.body, r.action, r.foreign_id FROM archive_rows r \
             JOIN archive_rooms m ON r.room_id = m.id \
             WHERE m.bridge = $1 AND m.user_jid = $2 AND m.room = $3 AND r.seq = $4",
            (bridge, user, room),
        )
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Archived {
                bridge: bridge.to_owned(),
                user: user.to_owned(),
                room: room.to_owned(),
                seq,
                nick: r.try_get(0)?,
                body: r.try_get(1)?,
                action: r.try_get::<i64, _>(2)? != 0,
                foreign_id: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// The archive id and author of the line a foreign network calls
    /// `foreign_id`.
    pub async fn archive_find(
        &self,
        (bridge, user, room): (&str, &str, &str),
        foreign_id: &str,
    ) -> Result<Option<(i64, String)>, StoreError> {
        let row = of_room(
            "SELECT r.seq, r.nick FROM archive_rows r \
             JOIN archive_rooms m ON r.room_id = m.id \
             WHERE m.bridge = $1 AND m.user_jid = $2 AND m.room = $3 AND r.foreign_id = $4",
            (bridge, user, room),
        )
        .bind(foreign_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// A line a server replays: `None` when the archive has it already (by
    /// its foreign id, or by nick and text within `REPLAY_WINDOW` of its
    /// time: archive ids are times, and the user's own lines may have
    /// been archived without an id), else the newest archive id of its
    /// room (0 for none).
    pub async fn archive_replay(&self, row: &Archived) -> Result<Option<i64>, StoreError> {
        let key = (row.bridge.clone(), row.user.clone(), row.room.clone());
        let room_id = self.archive_room_id(&key).await?;
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM archive_rows WHERE room_id = $1 AND (foreign_id = $2 \
             OR (seq >= $3 AND seq <= $4 AND nick = $5 AND body = $6)) LIMIT 1",
        )
        .bind(room_id)
        .bind(row.foreign_id.as_deref())
        .bind(row.seq - REPLAY_WINDOW)
        .bind(row.seq + REPLAY_WINDOW)
        .bind(&row.nick)
        .bind(&row.body)
        .fetch_optional(&self.pool)
        .await?;
        if known.is_some() {
            return Ok(None);
        }
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM archive_rows WHERE room_id = $1")
                .bind(room_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Some(newest.unwrap_or(0)))
    }

    /// Deletes a user's archives (in the transaction that removes them).
    pub(super) async fn archive_remove_user(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        bridge: &str,
        user: &str,
    ) -> Result<(), StoreError> {
        let owner = (bridge, user);
        remove_with_children(tx, owner, "archive_rooms", ("archive_rows", "room_id")).await?;
        self.lock_room_ids()
            .retain(|(b, u, _), _| b != bridge || u != user);
        Ok(())
    }

    /// Drops rows older than `before_seq`, and beyond `keep` rows per
    /// (user, room).
    pub async fn archive_prune(&self, before_seq: i64, keep: i64) -> Result<u64, StoreError> {
        let old = sqlx::query("DELETE FROM archive_rows WHERE seq < $1")
            .bind(before_seq)
            .execute(&self.pool)
            .await?
            .rows_affected();
        // The oldest row to keep is the `keep`-th newest of its room.
        let over = sqlx::query(
            "DELETE FROM archive_rows WHERE seq < (SELECT a.seq FROM archive_rows a \
             WHERE a.room_id = archive_rows.room_id ORDER BY a.seq DESC LIMIT 1 OFFSET $1)",
        )
        .bind((keep - 1).max(0))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(old + over)
    }
}
