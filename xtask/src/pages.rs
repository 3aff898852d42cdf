//! The HTML pages' template environment: minijinja with HTML autoescaping,
//! templates compiled into the binary from `templates/` so a built xtask
//! renders the same pages wherever it runs.

use minijinja::Environment;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("report.html", include_str!("../../templates/report.html")),
    ("compare.html", include_str!("../../templates/compare.html")),
    ("index.html", include_str!("../../templates/index.html")),
];

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Every template is HTML: escape everything that is not marked safe
    // (only our own SVG charts are).
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
    }
    env
}

pub fn render<S: serde::Serialize>(template: &str, context: S) -> anyhow::Result<String> {
    let env = environment();
    let tmpl = env.get_template(template)?;
    tmpl.render(context)
        .map_err(|e| anyhow::anyhow!("rendering {template}: {e:#}"))
}

/// An SVG produced by our chart code, marked safe for the template.
pub fn svg(text: String) -> minijinja::Value {
    minijinja::Value::from_safe_string(text)
}

/// Milliseconds with three significant digits, from microseconds.
pub fn ms(us: f64) -> String {
    let v = us / 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

pub fn rate(rps: f64) -> String {
    if rps >= 100.0 {
        format!("{rps:.0}")
    } else {
        format!("{rps:.1}")
    }
}
