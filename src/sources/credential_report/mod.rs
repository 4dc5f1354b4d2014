//! The IAM credential report: a CSV file with one row per user (and `<root_account>`
//! first), parsed column by column. Its cells say more than a value: `N/A` (no such
//! credential), `no_information` (AWS has not seen it used since it started tracking) and
//! `not_supported` (the column does not apply) are kept apart, not read as "never".

pub mod poll;

use jiff::Timestamp;
use std::fmt;

/// The row AWS writes for the account's root user.
pub const ROOT_ROW: &str = "<root_account>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell<T> {
    Value(T),
    NotApplicable,
    NoInformation,
    NotSupported,
}

impl<T: Clone> Cell<T> {
    pub fn value(&self) -> Option<T> {
        match self {
            Cell::Value(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl Cell<bool> {
    pub fn is_true(&self) -> bool {
        matches!(self, Cell::Value(true))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumns {
    pub active: Cell<bool>,
    pub last_rotated: Cell<Timestamp>,
    pub last_used_date: Cell<Timestamp>,
    pub last_used_region: Cell<String>,
    pub last_used_service: Cell<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertColumns {
    pub active: Cell<bool>,
    pub last_rotated: Cell<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub user: String,
    pub arn: String,
    pub user_creation_time: Cell<Timestamp>,
    pub password_enabled: Cell<bool>,
    pub password_last_used: Cell<Timestamp>,
    pub password_last_changed: Cell<Timestamp>,
    pub password_next_rotation: Cell<Timestamp>,
    pub mfa_active: Cell<bool>,
    pub keys: [KeyColumns; 2],
    pub certs: [CertColumns; 2],
}

impl ReportRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_ROW
    }
}

/// Where the report could not be read: line and column (1-based) and the column's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "credential report line {}, column {} ({}): {}",
            self.line, self.column, self.field, self.message
        )
    }
}

impl std::error::Error for ReportError {}

const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

/// Splits one CSV record, with RFC 4180 quoting (IAM user names may contain commas).
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (false, ',') => {
                out.push(std::mem::take(&mut cur));
                at_start = true;
            }
            (_, c) => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

struct Fields<'a> {
    line: usize,
    cells: &'a [String],
    index: &'a [usize; 22],
}

impl Fields<'_> {
    fn raw(&self, n: usize) -> (&str, usize) {
        let col = self.index[n];
        (self.cells[col].trim(), col + 1)
    }

    fn error(&self, n: usize, message: String) -> ReportError {
        ReportError {
            line: self.line,
            column: self.index[n] + 1,
            field: COLUMNS[n].into(),
            message,
        }
    }

    fn cell<T>(
        &self,
        n: usize,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Cell<T>, ReportError> {
        let (text, _) = self.raw(n);
        Ok(match text {
            "N/A" => Cell::NotApplicable,
            "no_information" => Cell::NoInformation,
            "not_supported" => Cell::NotSupported,
            t => Cell::Value(parse(t).map_err(|m| self.error(n, m))?),
        })
    }

    fn flag(&self, n: usize) -> Result<Cell<bool>, ReportError> {
        self.cell(n, |t| match t {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(format!("`{other}` is not true or false")),
        })
    }

    fn time(&self, n: usize) -> Result<Cell<Timestamp>, ReportError> {
        self.cell(n, |t| {
            t.parse::<Timestamp>()
                .map_err(|e| format!("`{t}` is not a timestamp: {e}"))
        })
    }

    fn text(&self, n: usize) -> Result<Cell<String>, ReportError> {
        self.cell(n, |t| Ok(t.to_string()))
    }

    fn key(&self, first: usize) -> Result<KeyColumns, ReportError> {
        Ok(KeyColumns {
            active: self.flag(first)?,
            last_rotated: self.time(first + 1)?,
            last_used_date: self.time(first + 2)?,
            last_used_region: self.text(first + 3)?,
            last_used_service: self.text(first + 4)?,
        })
    }

    fn cert(&self, first: usize) -> Result<CertColumns, ReportError> {
        Ok(CertColumns {
            active: self.flag(first)?,
            last_rotated: self.time(first + 1)?,
        })
    }
}

/// Parses the whole report. Columns are found by their header, so AWS adding or moving
/// one does not shift the others.
pub fn parse(text: &str) -> Result<Vec<ReportRow>, ReportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header_error = |message: String| ReportError {
        line: 1,
        column: 1,
        field: "header".into(),
        message,
    };
    let Some((_, header)) = lines.next() else {
        return Err(header_error("the report is empty".into()));
    };
    let header = split(header).map_err(header_error)?;
    let mut index = [0usize; 22];
    for (n, name) in COLUMNS.iter().enumerate() {
        index[n] = header
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| header_error(format!("no `{name}` column")))?;
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        let cells = split(line).map_err(|message| ReportError {
            line: line_no,
            column: 1,
            field: "record".into(),
            message,
        })?;
        if cells.len() != header.len() {
            return Err(ReportError {
                line: line_no,
                column: cells.len().min(header.len()) + 1,
                field: "record".into(),
                message: format!("{} fields, the header has {}", cells.len(), header.len()),
            });
        }
        let f = Fields {
            line: line_no,
            cells: &cells,
            index: &index,
        };
        rows.push(ReportRow {
            user: f.raw(0).0.to_string(),
            arn: f.raw(1).0.to_string(),
            user_creation_time: f.time(2)?,
            password_enabled: f.flag(3)?,
            password_last_used: f.time(4)?,
            password_last_changed: f.time(5)?,
            password_next_rotation: f.time(6)?,
            mfa_active: f.flag(7)?,
            keys: [f.key(8)?, f.key(13)?],
            certs: [f.cert(18)?, f.cert(20)?],
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as AWS writes it (root row first), from the IAM User Guide's column list.
    const AWS: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::123456789012:root,2019-03-01T09:00:00+00:00,not_supported,2026-11-30T08:12:44+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
\"ops,shared\",arn:aws:iam::123456789012:user/ops-shared,2024-01-10T00:00:00+00:00,true,no_information,2024-01-10T00:00:00+00:00,N/A,false,true,2024-01-10T00:00:00+00:00,2026-11-29T10:00:00+00:00,ap-northeast-2,s3,true,2026-06-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A
";

    #[test]
    fn every_column_and_every_kind_of_cell() {
        let rows = parse(AWS).unwrap();
        assert_eq!(rows.len(), 2);
        let root = &rows[0];
        assert!(root.is_root());
        assert_eq!(root.password_enabled, Cell::NotSupported);
        assert_eq!(
            root.password_last_used.value(),
            Some("2026-11-30T08:12:44Z".parse().unwrap())
        );
        assert!(root.mfa_active.is_true());
        assert_eq!(root.keys[0].last_rotated, Cell::NotApplicable);
        let ops = &rows[1];
        assert_eq!(ops.user, "ops,shared", "quoted names keep their commas");
        assert_eq!(ops.password_last_used, Cell::NoInformation);
        assert_eq!(ops.password_next_rotation, Cell::NotApplicable);
        assert_eq!(
            ops.keys[0].last_used_region,
            Cell::Value("ap-northeast-2".into())
        );
        assert_eq!(ops.keys[0].last_used_service, Cell::Value("s3".into()));
        assert!(ops.keys[1].active.is_true());
        assert_eq!(ops.keys[1].last_used_date, Cell::NotApplicable);
        assert_eq!(ops.certs[1].active, Cell::Value(false));
    }

    #[test]
    fn columns_are_found_by_name() {
        let header = AWS.lines().next().unwrap();
        let mut cols: Vec<&str> = header.split(',').collect();
        cols.swap(0, 7);
        let row: Vec<&str> = AWS.lines().nth(1).unwrap().split(',').collect();
        let mut row = row.clone();
        row.swap(0, 7);
        let text = format!("{}\n{}\n", cols.join(","), row.join(","));
        let rows = parse(&text).unwrap();
        assert!(rows[0].is_root() && rows[0].mfa_active.is_true());
    }

    #[test]
    fn a_bad_cell_names_line_column_and_field() {
        let broken = AWS.replace(
            "2019-03-01T09:00:00+00:00,not_supported",
            "2019-03-01T09:00:00+00:00,maybe",
        );
        let err = parse(&broken).unwrap_err();
        assert_eq!((err.line, err.column), (2, 4));
        assert_eq!(
            err.to_string(),
            "credential report line 2, column 4 (password_enabled): `maybe` is not true or false"
        );
        let short = format!("{}\nalice,arn\n", AWS.lines().next().unwrap());
        assert!(
            parse(&short)
                .unwrap_err()
                .to_string()
                .contains("2 fields, the header has 22")
        );
        assert!(
            parse("user,arn\n")
                .unwrap_err()
                .to_string()
                .contains("no `user_creation_time` column")
        );
    }
}
