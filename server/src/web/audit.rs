//! Reading the trail: the global audit page for auditors (filterable,
//! paginated, exportable as JSON lines and CSV) and each secret's access
//! history for those who may read the secret.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use serde::Deserialize;
use strongroom_app::api::{AuditEntry, AuditPage};

use super::{
    AppError, AppState,
    extract::{Json, Path, Query},
    secrets::SecretPath,
};
use crate::domain::{
    audit::{AuditRecord, reading, store::AuditQuery},
    auth::CurrentUser,
    secrets::check_path,
};

/// The export format, next to the filters (a separate extractor: serde's
/// `flatten` cannot parse numbers from a query string).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Format {
    /// `json` (default), `jsonl` (a download of JSON lines) or `csv`.
    format: Option<ExportFormat>,
}

#[derive(Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Jsonl,
    Csv,
}

fn entry(r: &AuditRecord) -> AuditEntry {
    let e = &r.event;
    AuditEntry {
        seq: r.seq,
        id: e.id.clone(),
        time: e.time.clone(),
        user: e.user.clone(),
        groups: e.groups.clone(),
        source_ip: e.source_ip.clone(),
        action: e.action.as_str().to_string(),
        namespace: e.namespace.clone(),
        secret: e.secret.clone(),
        keys: e.keys.clone(),
        outcome: serde_json::to_value(e.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        status: e.status,
        reason: e.reason.clone(),
    }
}

fn page(records: &[AuditRecord], limit: i64) -> AuditPage {
    AuditPage {
        items: records.iter().map(entry).collect(),
        next_before: (records.len() as i64 >= limit)
            .then(|| records.last().map(|r| r.seq))
            .flatten(),
    }
}

/// `GET /api/v1/audit`: the whole trail, for the auditors group only.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery, Format),
    responses((status = 200, description = "A page of the trail, newest first (members of the auditors group only)", content(
        (AuditPage = "application/json"),
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    ))))]
pub async fn trail(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<AuditQuery>,
    Query(format): Query<Format>,
) -> Result<Response, AppError> {
    let records = reading::trail(&state.audit, &user, &state.config.auditors_group, &query).await?;
    let limit = query.page_size()?;
    match format.format {
        Some(ExportFormat::Jsonl) => {
            let body: String = records
                .iter()
                .map(|r| serde_json::to_string(r).expect("records serialize") + "\n")
                .collect();
            Ok(download(body, "application/x-ndjson", "audit.jsonl"))
        }
        Some(ExportFormat::Csv) => Ok(download(
            to_csv(&records),
            "text/csv; charset=utf-8",
            "audit.csv",
        )),
        _ => Ok(Json(page(&records, limit)).into_response()),
    }
}

/// `GET /api/v1/namespaces/{ns}/secrets/{name}/history`: who revealed or
/// changed this secret, for those who may read it.
#[utoipa::path(get, path = "/api/v1/namespaces/{ns}/secrets/{name}/history", tag = "audit",
    params(SecretPath, AuditQuery),
    responses((status = 200, description = "Who revealed or changed this secret, newest first", body = AuditPage)))]
pub async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(SecretPath { ns, name }): Path<SecretPath>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    check_path(&ns, Some(&name))?;
    let kube = state.kube.for_user(user.identity());
    let records = reading::history(&state.audit, &kube, &ns, &name, q.clone()).await?;
    Ok(Json(page(&records, q.page_size()?)))
}

fn download(body: String, content_type: &'static str, file: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// CSV with RFC 4180 quoting; cells that a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, or a tab or carriage return,
/// which some spreadsheets skip before reading one) are prefixed with `'`.
fn to_csv(records: &[AuditRecord]) -> String {
    let mut out = String::from(
        "seq,id,time,user,groups,source_ip,action,namespace,secret,keys,outcome,status,reason,hash\n",
    );
    for r in records {
        let e = entry(r);
        let cells = [
            e.seq.to_string(),
            e.id,
            e.time,
            e.user,
            e.groups.join(" "),
            e.source_ip.unwrap_or_default(),
            e.action,
            e.namespace,
            e.secret,
            e.keys.join(" "),
            e.outcome,
            e.status.map(|s| s.to_string()).unwrap_or_default(),
            e.reason.unwrap_or_default(),
            r.hash.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("\t=cmd()"), "'\t=cmd()");
        assert_eq!(csv_cell("\r=cmd()"), "\"'\r=cmd()\"");
    }
}
