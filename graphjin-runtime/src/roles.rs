//! Role resolution: `anon` without a user; with one, the role a trusted layer set, else the
//! answer of the compiled `roles_query` + `match` statement, else `user`.

use std::error::Error as StdError;

use tokio_postgres::error::ErrorPosition;

use bytes::BytesMut;
use postgres_types::{IsNull, ToSql, Type, to_sql_checked};

/// The user id bound as `roles_query`'s `$user_id`, encoded as the type PostgreSQL inferred
/// for it (integers, text or uuid).
#[derive(Debug)]
pub(crate) struct UserIdParam<'a>(pub(crate) &'a str);

impl UserIdParam<'_> {
    /// Whether a user id can be sent as `t`.
    pub(crate) fn accepts_type(t: &Type) -> bool {
        matches!(
            *t,
            Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UUID
        )
    }
}

impl ToSql for UserIdParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let id = self.0.trim();
        match *ty {
            Type::INT2 => id.parse::<i16>()?.to_sql(ty, out),
            Type::INT4 => id.parse::<i32>()?.to_sql(ty, out),
            Type::INT8 => id.parse::<i64>()?.to_sql(ty, out),
            Type::UUID => {
                let hex: String = id.chars().filter(|c| *c != '-').collect();
                if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err("the user id is not a uuid".into());
                }
                for i in 0..16 {
                    out.extend_from_slice(&[u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16)?]);
                }
                Ok(IsNull::No)
            }
            _ => id.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        Self::accepts_type(ty)
    }

    to_sql_checked!();
}

/// The role whose `match` holds the error PostgreSQL reported at start-up, found by the
/// error's position in the role statement: each match is written `WHEN (<match>) THEN
/// '<role>'` inside the `CASE ... END AS "__gj_role"` that codegen adds to `roles_query`.
pub(crate) fn role_at_error(sql: &str, e: &tokio_postgres::Error) -> Option<String> {
    let Some(ErrorPosition::Original(pos)) = e.as_db_error()?.position() else {
        return None;
    };
    // PostgreSQL counts characters from 1.
    let at = sql
        .char_indices()
        .nth(usize::try_from(*pos).ok()?.checked_sub(1)?)
        .map(|(i, _)| i)?;
    let case_end = sql.find(r#"END AS "__gj_role""#)?;
    let case_start = sql[..case_end].rfind(", CASE WHEN (")?;
    if at < case_start || at >= case_end {
        return None;
    }
    let after = &sql[at..case_end];
    let name = after.split(") THEN '").nth(1)?;
    let end = name
        .find("' WHEN (")
        .or_else(|| name.find("' ELSE 'user'"))?;
    Some(name[..end].replace("''", "'"))
}
