use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn vars(text: &str) -> Vars {
    parse(text, &no_env).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn one(text: &str) -> String {
    let v = vars(text);
    assert_eq!(v.len(), 1, "{text:?} gave {v:?}");
    v.into_values().next().unwrap()
}

#[test]
fn lines_keys_and_export() {
    let v = vars(
        "# comment\n\n  A=1\nexport B=2\nexport\tC=3\n  # indented comment\nD = spaced value \nE: yaml\nexportF=4\n",
    );
    let want = [("A", "1"), ("B", "2"), ("C", "3"), ("D", "spaced value"), ("E", "yaml"), ("exportF", "4")];
    assert_eq!(v, want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vars>());
    assert_eq!(vars("A=first\nA=second\n")["A"], "second", "the last line wins");
    assert_eq!(vars("my.key-1=x\n")["my.key-1"], "x");
    assert_eq!(one("URL=postgres://u:p@h/db?sslmode=disable&x=1"), "postgres://u:p@h/db?sslmode=disable&x=1");
}

#[test]
fn empty_values() {
    let v = vars("A=\nB=''\nC=\"\"\nD=   \nE= # only a comment\nF");
    assert_eq!(v["E"], "# only a comment", "after `=` and its spaces no space is left to start a comment");
    assert_eq!((v["A"].as_str(), v["B"].as_str(), v["C"].as_str(), v["D"].as_str()), ("", "", "", ""));
    assert!(!v.contains_key("F"), "a bare name not in the environment is not set");
}

#[test]
fn inline_comments_need_a_space_before_the_hash() {
    assert_eq!(one("A=value # comment"), "value");
    assert_eq!(one("A=value#not a comment"), "value#not a comment");
    assert_eq!(one("A=value\t# tab is not enough"), "value\t# tab is not enough");
    assert_eq!(one("A=\"v # in quotes\" # after"), "v # in quotes");
    assert_eq!(one("A='v # in quotes'# right after"), "v # in quotes");
}

#[test]
fn single_quotes_are_literal() {
    assert_eq!(one(r"A='$HOME ${HOME} \n \\ it\'s'"), r"$HOME ${HOME} \n \\ it's");
    assert_eq!(one("A='two\nlines'"), "two\nlines");
}

#[test]
fn double_quotes_take_shell_escapes() {
    assert_eq!(one(r#"A="l1\nl2\ttab\r \"q\" back\\slash \$HOME""#), "l1\nl2\ttab\r \"q\" back\\slash $HOME");
    assert_eq!(one(r#"A="\a\b\f\v""#), "\u{7}\u{8}\u{c}\u{b}");
    assert_eq!(one(r#"A="\0101\0377 \012 \0999 \x41 \' \c""#), "A\u{ff} \\012 \\0999 \\x41 \\' \\c");
    assert_eq!(one(r#"A="{\"hello\": \"json\"}""#), r#"{"hello": "json"}"#);
    assert_eq!(one(r#"A="ends with \\""#), "ends with \\");
    assert_eq!(vars("A=\"two\nlines\"\nB=after")["A"], "two\nlines");
}

#[test]
fn unquoted_values_keep_backslashes_and_quotes_inside() {
    assert_eq!(one(r"A=a\nb\tc"), r"a\nb\tc");
    assert_eq!(one("A=it's \"fine\""), "it's \"fine\"");
}

#[test]
fn crlf_and_bom() {
    let v = vars("\u{feff}A=1\r\nB=\"two\"\r\nC='three' # c\r\nD=four # c\r\n\r\nE\r\n");
    assert_eq!((v["A"].as_str(), v["B"].as_str(), v["C"].as_str(), v["D"].as_str()), ("1", "two", "three", "four"));
    assert_eq!(v.len(), 4);
}

#[test]
fn interpolation_uses_the_environment_then_earlier_lines() {
    let env = |k: &str| match k {
        "FROM_ENV" => Some("outside".to_owned()),
        "SHADOW" => Some("env".to_owned()),
        _ => None,
    };
    let v = parse(
        "BASE=base\nSHADOW=file\nA=${BASE}/x\nB=\"$BASE-${FROM_ENV}\"\nC='${BASE}'\nD=${SHADOW}\nE=${LATER}\nLATER=l\n\
         F=${MISSING:-fallback}\nG=$${BASE}\nH=\"\\${BASE}\"\nFROM_ENV\nEMPTY=\nI=${EMPTY:-d}${EMPTY-e}\n",
        &env,
    )
    .unwrap();
    assert_eq!(v["A"], "base/x");
    assert_eq!(v["B"], "base-outside");
    assert_eq!(v["C"], "${BASE}", "no interpolation in single quotes");
    assert_eq!(v["D"], "env", "the environment comes before the file inside ${{...}} (Compose v2)");
    assert_eq!(v["SHADOW"], "file", "the file's own value is what the file says");
    assert_eq!(v["E"], "", "only lines above count");
    assert_eq!(v["F"], "fallback");
    assert_eq!(v["G"], "${BASE}");
    assert_eq!(v["H"], "${BASE}");
    assert_eq!(v["FROM_ENV"], "outside", "a bare name is taken from the environment");
    assert_eq!(v["I"], "d");
}

#[test]
fn errors_carry_the_line_number() {
    let err = |text: &str| parse(text, &no_env).unwrap_err();
    let e = err("A=1\nB=\"never closed\nC=3\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("the value of B opens a \" quote that is never closed"), "{e}");
    let e = err("A=1\n\nBAD KEY=2\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("unexpected character 'K' in the variable name \"BAD KEY=2\""), "{e}");
    let e = err("A=1\nB$=2\n");
    assert_eq!((e.line, e.to_string().contains("'$'")), (2, true), "{e}");
    let e = err("A='x' y\n");
    assert!(e.message.contains("unexpected text after the closing quote of A"), "{e}");
    let e = err("A=1\r\n=2\r\n");
    assert_eq!(e.to_string(), "line 2: a variable name is missing before the '='");
    let e = err("A=\"line\nline\"\nB=${C\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("no closing '}'"), "{e}");
    assert!(err("A=${1}").message.contains("not a valid reference"));
}

#[test]
fn read_names_the_file_and_tells_how_to_fix_it() {
    let dir = std::env::temp_dir().join(format!("stackctl-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".env");
    assert_eq!(read(&path).unwrap(), None, "no file is no variables");
    std::fs::write(&path, "A=1\nB='open\n").unwrap();
    let e = read(&path).unwrap_err();
    assert!(e.starts_with(&format!("{}, line 2: the value of B opens a ' quote", path.display())), "{e}");
    assert!(e.ends_with("fix that line (Compose reads the file the same way and would refuse it too)"), "{e}");
    std::fs::write(&path, "A=1\n").unwrap();
    assert_eq!(read(&path).unwrap().unwrap()["A"], "1");
    std::fs::remove_dir_all(&dir).unwrap();
}
