//! §3.1 lexical rules and their quirks.

use super::{canon, err, matches, ok};

#[test]
fn tab_is_whitespace_between_tokens() {
    assert!(matches("a\t==\t'b'", &[("a", "b")]));
    assert!(matches("\ta == 'b'\t", &[("a", "b")]));
    assert_eq!(canon("has(\ta\t)"), "has(a)");
    assert_eq!(canon("a starts\twith 'x'"), r#"a starts with "x""#);
    assert_eq!(canon("a not\tin {'x'}"), r#"a not in {"x"}"#);
    assert_eq!(canon("all(\t)"), "all()");
}

#[test]
fn trailing_newline_is_rejected() {
    assert_eq!(err("a == 'b'\n").position, 8);
}

#[test]
fn newline_and_other_whitespace_are_rejected_everywhere() {
    for input in [
        "\na == 'b'",
        "a ==\n'b'",
        "a == 'b'\r\n",
        "a == 'b'\r",
        "has(\na)",
        "has(a\n)",
        "a starts\nwith 'x'",
        "a not\nin {'x'}",
        "a in {\n'x'}",
        "a\u{0B}== 'b'",
        "a\u{0C}== 'b'",
        "a\u{A0}== 'b'",
        "a\u{2003}== 'b'",
        "\n",
        " \n ",
    ] {
        err(input);
    }
}

#[test]
fn newline_inside_a_string_literal_is_content() {
    // The literal's body is everything up to the closing quote.
    assert!(matches("a == 'x\ny'", &[("a", "x\ny")]));
}

#[test]
fn startswith_endswith_notin_spellings() {
    assert_eq!(ok("a startswith 'x'"), ok("a starts with 'x'"));
    assert_eq!(ok("a endswith 'x'"), ok("a ends with 'x'"));
    assert_eq!(ok("a notin {'x'}"), ok("a not in {'x'}"));
    assert_eq!(canon("a startswith 'x'"), r#"a starts with "x""#);
    assert_eq!(canon("a notin {'x'}"), r#"a not in {"x"}"#);
}

#[test]
fn several_blanks_inside_two_word_operators() {
    assert_eq!(ok("label starts  with 'v'"), ok("label starts with 'v'"));
    assert_eq!(ok("label ends \t  with 'v'"), ok("label ends with 'v'"));
    assert_eq!(ok("label not    in {'v'}"), ok("label not in {'v'}"));
    assert!(matches(
        "label starts  with \"value\"",
        &[("label", "value1")]
    ));
}

#[test]
fn labels_may_be_named_after_keywords() {
    assert!(matches(
        "contains contains 'contains'",
        &[("contains", "xcontainsx")]
    ));
    assert!(matches("in in {'a'}", &[("in", "a")]));
    assert!(matches("not not in {'a'}", &[("not", "b")]));
    assert!(matches("has == 'x'", &[("has", "x")]));
    assert!(matches("all == 'x'", &[("all", "x")]));
    assert!(matches("global != 'x'", &[("global", "y")]));
    assert!(matches("starts starts with 's'", &[("starts", "sx")]));
    assert!(matches("with ends with 'w'", &[("with", "xw")]));
    assert!(matches("notin notin {'a'}", &[("notin", "b")]));
    assert!(matches("has(has) && has(all)", &[("has", ""), ("all", "")]));
    assert!(!matches("has == 'x'", &[]));
}

#[test]
fn keyword_may_touch_a_quote_or_brace() {
    assert!(matches("a contains\"x\"", &[("a", "axb")]));
    assert!(matches("a in{'x'}", &[("a", "x")]));
    assert!(matches("a notin{'x'}", &[("a", "y")]));
    assert!(matches("a startswith'x'", &[("a", "xy")]));
    assert!(matches("a ends with'x'", &[("a", "yx")]));
    assert!(matches("a contains'x'||b==''", &[("b", "")]));
}

#[test]
fn keyword_must_end_at_a_word_boundary() {
    for input in [
        "a inf {'x'}",
        "label ends withs \"value\"",
        "label starts foo \"value\"",
        "a containsx 'x'",
        "a in-x {'x'}",
        "a notinx {'x'}",
        "a not inx {'x'}",
        "a startswith. 'x'",
        "a starts",
        "a not",
        "a not {'x'}",
    ] {
        err(input);
    }
}

#[test]
fn label_of_512_characters_is_accepted_and_513_rejected() {
    let long = "k".repeat(512);
    assert!(matches(&format!("{long} == 'v'"), &[(long.as_str(), "v")]));
    assert_eq!(canon(&format!("has({long})")), format!("has({long})"));

    let too_long = "k".repeat(513);
    assert_eq!(err(&format!("{too_long} == 'v'")).position, 0);
    assert_eq!(err(&format!("has({too_long})")).position, 4);
    assert_eq!(err(&format!("a == 'v' || {too_long} == 'v'")).position, 12);
}

#[test]
fn label_characters() {
    assert!(matches("a.b/c_d-e9 == 'x'", &[("a.b/c_d-e9", "x")]));
    assert!(matches("0 == 'x'", &[("0", "x")]));
    assert!(matches("- == 'x'", &[("-", "x")]));
    assert_eq!(err("ü == 'v'").position, 0);
    assert_eq!(err("a:b == 'v'").position, 1);
}

#[test]
fn uppercase_keywords_are_rejected() {
    for input in [
        "a IN {'x'}",
        "a Contains 'x'",
        "a NOT IN {'x'}",
        "a NOTIN {'x'}",
        "a Starts With 'x'",
        "a starts With 'x'",
        "a ENDSWITH 'x'",
        "HAS(a)",
        "Global()",
    ] {
        err(input);
    }
}

#[test]
fn function_name_must_touch_its_parenthesis() {
    assert_eq!(err("all ()").position, 3);
    assert_eq!(err("has (a)").position, 3);
    assert_eq!(err("global\t()").position, 6);
    err("ALL()");
    err("! has (a)");
}

#[test]
fn function_arguments_are_checked() {
    for input in [
        "has()",
        "has( )",
        "all(x)",
        "global(x)",
        "has(a,b)",
        "has(a b)",
        "has('a')",
        "has(ü)",
        "all(",
        "has(a",
        "has(",
        "global(",
    ] {
        err(input);
    }
    assert_eq!(canon("has( a )"), "has(a)");
    assert_eq!(canon("all( )"), "all()");
    assert_eq!(canon("global(  )"), "global()");
}

#[test]
fn string_literals_have_no_escapes() {
    assert!(matches(r#"a == '"'"#, &[("a", "\"")]));
    assert!(matches(r#"a == "'""#, &[("a", "'")]));
    assert!(matches(r"a == 'x\'", &[("a", "x\\")]));
    err(r"a == 'it\'s'");
    assert!(matches("a == 'ü日本'", &[("a", "ü日本")]));
    assert!(matches("a == ''", &[("a", "")]));
    assert_eq!(err("a == \"b").position, 5);
    assert_eq!(err("label == 'value").position, 9);
}

#[test]
fn punctuation() {
    assert!(matches("a!='b'", &[("a", "c")]));
    assert!(matches("!has(a)", &[]));
    assert_eq!(err("a = 'b'").position, 2);
    assert_eq!(err("a == 'b' & b == 'c'").position, 9);
    assert_eq!(err("a == 'b' | b == 'c'").position, 9);
    assert_eq!(err("a === 'b'").position, 4);
    assert_eq!(err("a !== 'b'").position, 4);
    // `!` then a space then `=`: the space separates them, so `=` is alone.
    assert_eq!(err("a ! = 'b'").position, 2);
    for c in [
        "%", "`", "@", "#", "$", "[", ";", ":", "+", "*", "<", ">", "~",
    ] {
        assert_eq!(err(&format!("a == 'b' && {c}")).position, 12, "{c}");
    }
}
