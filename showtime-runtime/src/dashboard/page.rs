//! The dashboard's HTML and JSON: the page, server-rendered so it reads
//! without JavaScript, and the data its script polls. Every value from
//! labels, the backend or a query is escaped; nothing here reads a request
//! or changes anything.
//!
//! The page carries no inline script or style (its `Content-Security-Policy`
//! is `default-src 'self'`): behaviour and looks are the embedded
//! [`APP_JS`] and [`APP_CSS`], and status colours are classes
//! (`st-running`).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use showtime_core::Login;
use showtime_core::ports::Health;

use super::model::{Row, Sort, UNTRACKED, View};
use crate::cost::so_far;
use crate::usage::Budget;
use showtime_core::Status;

/// The page's script: live updates by polling [`data`] with `ETag`s.
pub const APP_JS: &str = include_str!("assets/app.js");
/// The page's style sheet: the table, its status colours, the phone layout.
pub const APP_CSS: &str = include_str!("assets/app.css");

/// The TTLs the page offers to extend by (the first is the default).
pub const EXTEND_BY: [&str; 3] = ["24h", "48h", "1w"];

/// A message shown once at the top of the page, after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// How it went.
    pub kind: FlashKind,
    /// What to say.
    pub text: String,
}

/// How an action went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    /// Done.
    Done,
    /// Started, not finished yet.
    Pending,
    /// Refused (permission, TTL, CSRF): nothing changed.
    Refused,
    /// Failed.
    Failed,
}

impl FlashKind {
    /// The word, also the CSS class.
    pub fn as_str(self) -> &'static str {
        match self {
            FlashKind::Done => "done",
            FlashKind::Pending => "pending",
            FlashKind::Refused => "refused",
            FlashKind::Failed => "failed",
        }
    }

    /// Reads [`FlashKind::as_str`] back.
    pub fn parse(word: &str) -> Option<Self> {
        [
            FlashKind::Done,
            FlashKind::Pending,
            FlashKind::Refused,
            FlashKind::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == word)
    }
}

/// Who looks at the page, and with what they may act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The signed-in login.
    pub login: Login,
    /// The CSRF token every form of theirs carries.
    pub csrf: String,
}

/// Everything one rendering of the page needs.
#[derive(Debug, Clone)]
pub struct PageContext<'a> {
    /// `owner/name`, when known.
    pub repository: Option<&'a str>,
    /// The URL prefix of a PR's page, `https://github.com/owner/name/pull/`.
    pub pulls: Option<String>,
    /// The rows shown, in order.
    pub rows: Vec<&'a Row>,
    /// Everyone who asked for an environment (for the filter).
    pub requesters: &'a [Login],
    /// The month's cost so far and projected, when known.
    pub month: Option<&'a Budget>,
    /// The filters and order.
    pub view: &'a View,
    /// The signed-in viewer.
    pub viewer: Option<&'a Viewer>,
    /// Whether signing in is possible.
    pub sign_in: bool,
    /// Why the data may be old.
    pub problem: Option<&'a str>,
    /// A message after an action.
    pub flash: Option<&'a Flash>,
    /// Now, for ages and costs.
    pub now: DateTime<Utc>,
    /// Seconds between the script's polls.
    pub refresh_secs: u64,
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A span of seconds for people: `2d 3h`, `5h 12m`, `7m`.
pub fn span(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{minutes}m")
    }
}

/// US dollars, to the cent.
pub fn dollars(amount: f64) -> String {
    format!("${amount:.2}")
}

/// The feature flags and options of a row, for people: `ALERTS, -BETA, debug`.
pub fn flags(row: &Row) -> Vec<String> {
    let config = &row.config;
    let mut out: Vec<String> = config
        .features
        .iter()
        .map(|(name, on)| {
            if *on {
                name.to_string()
            } else {
                format!("-{name}")
            }
        })
        .collect();
    for (set, word) in [
        (config.debug, "debug"),
        (config.no_examples, "no-examples"),
        (config.cache_redis, "cache-redis"),
    ] {
        if set {
            out.push(word.to_owned());
        }
    }
    out
}

/// Time left before expiry: a span, `expired`, or how the TTL ends instead
/// (`close`, `manual`).
fn left(row: &Row, now: DateTime<Utc>) -> String {
    match (row.expires_at, row.ttl) {
        (Some(at), _) if at <= now => "expired".to_owned(),
        (Some(at), _) => span((at - now).num_seconds()),
        (None, Some(ttl)) => ttl.to_string(),
        (None, None) => "-".to_owned(),
    }
}

/// The page.
pub fn page(ctx: &PageContext<'_>) -> String {
    let mut html = String::with_capacity(4096 + ctx.rows.len() * 600);
    let title = ctx.repository.unwrap_or("environments");
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Showtime · {}</title><link rel=\"stylesheet\" href=\"/dashboard/app.css\">\
         <script src=\"/dashboard/app.js\" defer></script></head>\
         <body data-refresh=\"{}\"><header><h1>🎪 Showtime <span>{}</span></h1><nav>",
        escape(title),
        ctx.refresh_secs,
        escape(title)
    );
    let back = escape(&ctx.view.query());
    match ctx.viewer {
        Some(viewer) => {
            let _ = write!(
                html,
                "<span id=\"who\">@{}</span><form method=\"post\" action=\"/dashboard/logout\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button>Sign out</button></form>",
                escape(viewer.login.as_str()),
                escape(&viewer.csrf)
            );
        }
        None if ctx.sign_in => {
            let _ = write!(
                html,
                "<a id=\"signin\" href=\"/dashboard/login?back={}\">Sign in with GitHub</a>",
                escape(&encode(&ctx.view.query()))
            );
        }
        None => {}
    }
    html.push_str("</nav></header><main>");
    if let Some(month) = ctx.month {
        let budget = month
            .budget_usd
            .map_or_else(String::new, |b| format!(" of a {} budget", dollars(b)));
        let _ = write!(
            html,
            "<p class=\"month\">This month ({}): {} so far, {} projected{budget}.</p>",
            escape(&month.month),
            dollars(month.so_far_usd),
            dollars(month.projected_usd)
        );
    }
    if let Some(flash) = ctx.flash {
        let _ = write!(
            html,
            "<p class=\"flash {}\" role=\"status\">{}</p>",
            flash.kind.as_str(),
            escape(&flash.text)
        );
    }
    let _ = write!(
        html,
        "<p id=\"problem\" class=\"flash failed\"{}>{}</p>",
        if ctx.problem.is_some() { "" } else { " hidden" },
        escape(ctx.problem.unwrap_or_default())
    );
    filters(&mut html, ctx);
    if let Some(viewer) = ctx.viewer {
        let _ = write!(
            html,
            "<form id=\"a\" method=\"post\" action=\"/dashboard/action\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"back\" value=\"{back}\">\
             <label>Extend by <select name=\"ttl\">",
            escape(&viewer.csrf)
        );
        for ttl in EXTEND_BY {
            let _ = write!(html, "<option>{ttl}</option>");
        }
        html.push_str("</select></label></form>");
    }
    let _ = write!(
        html,
        "<p id=\"count\">{} environment{}</p><table id=\"envs\"><thead><tr><th>PR</th>\
         <th>Requester</th><th>Commit</th><th>Status</th><th>Address</th><th>Age</th>\
         <th>Expires in</th><th>Size</th><th>Flags</th><th>Cost</th>{}</tr></thead><tbody>",
        ctx.rows.len(),
        if ctx.rows.len() == 1 { "" } else { "s" },
        if ctx.viewer.is_some() {
            "<th>Actions</th>"
        } else {
            ""
        }
    );
    for row in &ctx.rows {
        row_html(&mut html, row, ctx);
    }
    html.push_str(
        "</tbody></table><footer>Costs are estimates from each size's vCPU and memory at the \
         configured hourly prices.</footer></main></body></html>",
    );
    html
}

/// The filter form: requester, status and order, sent with GET.
fn filters(html: &mut String, ctx: &PageContext<'_>) {
    let selected = |yes: bool| if yes { " selected" } else { "" };
    html.push_str(
        "<form id=\"filters\" method=\"get\" action=\"/dashboard\"><label>Requester \
         <select name=\"requester\"><option value=\"\">anyone</option>",
    );
    for login in ctx.requesters {
        let _ = write!(
            html,
            "<option{}>{}</option>",
            selected(ctx.view.requester.as_ref() == Some(login)),
            escape(login.as_str())
        );
    }
    html.push_str(
        "</select></label><label>Status <select name=\"status\"><option value=\"\">any</option>",
    );
    for word in Status::ALL
        .map(Status::as_str)
        .into_iter()
        .chain([UNTRACKED])
    {
        let _ = write!(
            html,
            "<option{}>{word}</option>",
            selected(ctx.view.status == Some(word))
        );
    }
    html.push_str("</select></label><label>Order <select name=\"sort\">");
    for sort in Sort::ALL {
        let _ = write!(
            html,
            "<option value=\"{}\"{}>{}</option>",
            sort.as_str(),
            selected(ctx.view.sort == sort),
            sort.label()
        );
    }
    html.push_str("</select></label><button>Show</button></form>");
}

/// One table row, kept small (a page lists hundreds): cells and rows leave
/// out their end tags and simple attribute values their quotes, as HTML
/// allows.
fn row_html(html: &mut String, row: &Row, ctx: &PageContext<'_>) {
    let pr = row.pr;
    html.push_str("<tr><td>");
    let title = row
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map_or_else(String::new, |t| format!(" {}", escape(t)));
    match &ctx.pulls {
        Some(pulls) => {
            let _ = write!(html, "<a href=\"{}{pr}\">#{pr}{title}</a>", escape(pulls));
        }
        None => {
            let _ = write!(html, "#{pr}{title}");
        }
    }
    let requester = row.requester.as_ref().map_or("-", Login::as_str);
    let word = row.status_word();
    let reason = match row.health.as_ref().and_then(Health::reason) {
        Some(reason) => format!(" title=\"{}\"", escape(reason)),
        None => String::new(),
    };
    let _ = write!(
        html,
        "<td>{}<td>{}<td><b class=st-{word}{reason}>{word}</b><td>",
        escape(requester),
        row.sha,
    );
    match row.address {
        Some(address) => {
            let _ = write!(html, "<a href=\"{}\">{address}</a>", address.url());
        }
        None => html.push('-'),
    }
    let age = row
        .created_at
        .map_or_else(|| "-".to_owned(), |at| span((ctx.now - at).num_seconds()));
    let cost = match (row.per_hour, row.created_at) {
        (Some(rate), Some(at)) => dollars(so_far(rate, at, ctx.now)),
        _ => "-".to_owned(),
    };
    let flags = flags(row);
    let _ = write!(
        html,
        "<td>{age}<td>{}<td>{}<td>{}<td>{cost}",
        left(row, ctx.now),
        row.size.as_ref().map_or("-", |s| s.as_str()),
        if flags.is_empty() {
            "-".to_owned()
        } else {
            escape(&flags.join(", "))
        },
    );
    if ctx.viewer.is_some() {
        // Wake only where there is something asleep to wake.
        let wake = if row.status == Some(showtime_core::Status::Sleeping) {
            format!("<button form=a name=do value=wake:{pr}>Wake</button>")
        } else {
            String::new()
        };
        let _ = write!(
            html,
            "<td>{wake}<button form=a name=do value=extend:{pr}>Extend</button>\
             <button form=a name=do value=refresh:{pr}>Refresh</button>\
             <button form=a name=do value=destroy:{pr} class=x>Destroy</button>"
        );
    }
}

/// The data the page's script polls: the shown rows, as JSON, with what the
/// table shows and no more (`GET /environments` is the backend's full
/// view). It holds no time-dependent figure (ages and costs so far are
/// computed by the reader from `created_at` and `per_hour`), so its `ETag`
/// changes only when an environment does. A field without a value (`null`,
/// no flags) is left out of its row: two hundred rows must stay small.
pub fn data(ctx: &PageContext<'_>) -> Value {
    let rows: Vec<Value> = ctx
        .rows
        .iter()
        .map(|row| {
            let mut value = json!({
                "pr": row.pr.get(),
                "title": row.title,
                "sha": row.sha.as_str(),
                "status": row.status_word(),
                "address": row.address.map(|a| a.to_string()),
                "requester": row.requester.as_ref().map(Login::as_str),
                "created_at": row.created_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "ttl": row.ttl.map(|t| t.to_string()),
                "expires_at": row.expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "size": row.size.as_ref().map(|s| s.as_str()),
                "flags": flags(row),
                // To a millionth of a dollar: enough, and short.
                "per_hour": row.per_hour.map(|p| (p * 1e6).round() / 1e6),
            });
            if let Value::Object(fields) = &mut value {
                fields.retain(|_, v| !(v.is_null() || v.as_array().is_some_and(Vec::is_empty)));
            }
            value
        })
        .collect();
    json!({
        "repository": ctx.repository,
        "pulls": ctx.pulls,
        "problem": ctx.problem,
        "environments": rows,
    })
}

/// A page with one message and a way back, for sign-in and refusals.
pub fn message(title: &str, text: &str, sign_in: bool) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Showtime · {title}</title><link rel=\"stylesheet\" href=\"/dashboard/app.css\">\
         </head><body><header><h1>🎪 Showtime</h1></header><main><h2>{title}</h2>\
         <p class=\"flash refused\" role=\"alert\">{text}</p><p>{}</p></main></body></html>",
        if sign_in {
            "<a id=\"signin\" href=\"/dashboard/login\">Sign in with GitHub</a>"
        } else {
            "<a href=\"/dashboard\">Back to the dashboard</a>"
        },
        title = escape(title),
        text = escape(text),
    )
}

/// Percent-encodes a query parameter's value.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(-5), "0m");
        assert_eq!(span(59), "0m");
        assert_eq!(span(7 * 60), "7m");
        assert_eq!(span(5 * 3600 + 12 * 60), "5h 12m");
        assert_eq!(span(2 * 86_400 + 3 * 3600 + 59), "2d 3h");
        assert_eq!(dollars(0.126), "$0.13");
    }

    #[test]
    fn every_status_colour_is_the_labels() {
        let codec = showtime_core::labels::Codec::default();
        for status in Status::ALL {
            let color = codec
                .definition(&format!("🎪 🚦 {status}"))
                .map(|d| d.color)
                .unwrap_or_default();
            let rule = format!(".st-{status}{{background:#{color}");
            assert!(
                APP_CSS.to_lowercase().contains(&rule.to_lowercase()),
                "app.css lacks `{rule}`"
            );
        }
    }
}
