//! Secrets from where container platforms put them: each URL or token
//! setting `NAME` may instead be given as `NAME_FILE`, the path of a file
//! holding the value (a mounted Kubernetes or compose secret), and every
//! string of a TOML config file may name environment variables as
//! `${NAME}`. Values read here are never printed; errors name the setting,
//! not its value.

use std::path::Path;

/// Sets each `NAME` from the file `NAME_FILE` names, when that is set. Call
/// at startup, before any other thread runs and before the flags are
/// parsed, so the value reaches the setting as if `NAME` had been set.
pub fn load_file_variants(names: &[&str]) -> Result<(), String> {
    for name in names {
        let lookup = |key: &str| std::env::var(key).ok();
        if let Some(value) = from_file_variant(name, lookup, |path| std::fs::read_to_string(path))?
        {
            // Edition 2021: set_var is safe; no other thread runs yet.
            std::env::set_var(name, value);
        }
    }
    Ok(())
}

/// The value `NAME_FILE` points at, if it is set: the file's text without
/// its trailing newline. Setting both `NAME` and `NAME_FILE` is an error, as
/// is an unreadable or empty file.
pub fn from_file_variant(
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
    read: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Option<String>, String> {
    let file_name = format!("{name}_FILE");
    let Some(path) = lookup(&file_name).filter(|path| !path.is_empty()) else {
        return Ok(None);
    };
    if lookup(name).is_some() {
        return Err(format!("set {name} or {file_name}, not both"));
    }
    let text = read(Path::new(&path))
        .map_err(|error| format!("{file_name}: cannot read {path}: {error}"))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!("{file_name}: {path} is empty"));
    }
    Ok(Some(value.to_owned()))
}

/// `text` with every `${NAME}` replaced by that environment variable's
/// value; `$${` is a literal `${`. An unset variable or an unclosed `${` is
/// an error naming it.
pub fn expand_variables(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        expanded.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(literal) = after.strip_prefix("$${") {
            expanded.push_str("${");
            rest = literal;
        } else if let Some(reference) = after.strip_prefix("${") {
            let end = reference
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {:?}", shorten(after)))?;
            let name = &reference[..end];
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("${{{}}} is not a variable name", shorten(name)));
            }
            let value = lookup(name).ok_or_else(|| format!("${{{name}}} is not set"))?;
            expanded.push_str(&value);
            rest = &reference[end + 1..];
        } else {
            expanded.push('$');
            rest = &after[1..];
        }
    }
    expanded.push_str(rest);
    Ok(expanded)
}

/// Expands `${NAME}` in every string of a parsed TOML document.
pub fn expand_toml(
    value: &mut toml::Value,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), String> {
    match value {
        toml::Value::String(text) => *text = expand_variables(text, lookup)?,
        toml::Value::Array(items) => {
            for item in items {
                expand_toml(item, lookup)?;
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                expand_toml(item, lookup).map_err(|why| format!("{key}: {why}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    fn file(text: &'static str) -> impl Fn(&Path) -> std::io::Result<String> {
        move |_| Ok(text.to_owned())
    }

    #[test]
    fn a_file_variant_gives_the_value_without_its_newline() {
        let lookup = env(&[("DATABASE_URL_FILE", "/run/secrets/db")]);
        assert_eq!(
            from_file_variant("DATABASE_URL", &lookup, file("postgres://u:p@h/db\n")).unwrap(),
            Some("postgres://u:p@h/db".to_owned())
        );
        assert_eq!(
            from_file_variant("AMQP_URL", &lookup, file("x")).unwrap(),
            None
        );
    }

    #[test]
    fn a_file_variant_refuses_ambiguity_and_empty_or_missing_files() {
        let both = env(&[("TOKEN", "a"), ("TOKEN_FILE", "/f")]);
        assert_eq!(
            from_file_variant("TOKEN", both, file("b")).unwrap_err(),
            "set TOKEN or TOKEN_FILE, not both"
        );
        let lookup = env(&[("TOKEN_FILE", "/f")]);
        assert_eq!(
            from_file_variant("TOKEN", &lookup, file("\n")).unwrap_err(),
            "TOKEN_FILE: /f is empty"
        );
        let missing = from_file_variant("TOKEN", &lookup, |_| {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        })
        .unwrap_err();
        assert!(
            missing.starts_with("TOKEN_FILE: cannot read /f: "),
            "{missing}"
        );
    }

    #[test]
    fn variables_expand_and_errors_name_them_not_their_values() {
        let lookup = env(&[("PASS", "s3cret"), ("HOST", "mq")]);
        assert_eq!(
            expand_variables("amqp://tach:${PASS}@${HOST}:5672/%2f", &lookup).unwrap(),
            "amqp://tach:s3cret@mq:5672/%2f"
        );
        assert_eq!(
            expand_variables("cost $5, $${X}", &lookup).unwrap(),
            "cost $5, ${X}"
        );
        assert_eq!(
            expand_variables("${MISSING}", &lookup).unwrap_err(),
            "${MISSING} is not set"
        );
        assert!(expand_variables("${PASS", &lookup)
            .unwrap_err()
            .starts_with("unclosed"));
        assert!(expand_variables("${a b}", &lookup).is_err());
    }

    #[test]
    fn every_string_of_a_toml_document_expands() {
        let lookup = env(&[("PASS", "s3cret")]);
        let mut value: toml::Value = toml::from_str(
            "[[deployment]]\nname = \"r1\"\namqp_url = \"amqp://u:${PASS}@h/\"\n\
             queue_arguments = { x = \"${PASS}\" }\n",
        )
        .unwrap();
        expand_toml(&mut value, &lookup).unwrap();
        let deployment = &value["deployment"][0];
        assert_eq!(deployment["amqp_url"].as_str(), Some("amqp://u:s3cret@h/"));
        assert_eq!(deployment["queue_arguments"]["x"].as_str(), Some("s3cret"));
        let mut bad: toml::Value = toml::from_str("a = \"${NOPE}\"").unwrap();
        assert_eq!(
            expand_toml(&mut bad, &lookup).unwrap_err(),
            "a: ${NOPE} is not set"
        );
    }
}
