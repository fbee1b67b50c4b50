//! Error positions, messages and rendering.

use super::super::SelectorError;
use super::err;

#[test]
fn position_of_unexpected_character() {
    let e = err("a == 'b' && %");
    assert_eq!(e.position, 12);
    assert_eq!(e.message, "unexpected character '%'");
    assert_eq!(e.to_string(), "unexpected character '%' at position 12");
}

#[test]
fn position_of_lone_equals() {
    let e = err("a = 'b'");
    assert_eq!(e.position, 2);
    assert!(e.message.contains("'='"), "{}", e.message);
}

#[test]
fn messages_say_what_was_expected_and_found() {
    let cases = [
        (
            "a == b",
            5,
            "expected a string literal after `==`, found label `b`",
        ),
        ("a == \"b", 5, "unterminated string literal"),
        ("(a == 'b'", 9, "expected `)` to close `(`"),
        (
            "a == 'b' c == 'd'",
            9,
            "unexpected content at end of selector",
        ),
        ("a IN {'x'}", 2, "found `IN` (operators are lowercase)"),
        ("a == 'b'\n", 8, "unexpected newline"),
        ("has (a)", 3, "unexpected space between `has` and `(`"),
        ("has()", 4, "expected a label inside `has(…)`, found ')'"),
        ("has(a b)", 6, "expected `)` to close `has(`, found `b`"),
        ("all(x)", 4, "expected `)` to close `all(`, found `x`"),
        (
            "a starts foo 'x'",
            9,
            "expected `with` after `starts`, found `foo`",
        ),
        (
            "a in {,}",
            6,
            "expected a string literal or `}` in the set, found `,`",
        ),
        (
            "a in {'x' 'y'}",
            10,
            "expected `,` or `}` after a set member",
        ),
        ("a in 'x'", 5, "expected `{` to start a set after `in`"),
        ("'b' == a", 0, "expected a label on the left"),
        ("has(x) &&", 9, "found end of selector"),
        ("ü == 'v'", 0, "unexpected character 'ü'"),
    ];
    for (input, position, fragment) in cases {
        let e = err(input);
        assert_eq!(e.position, position, "{input:?}: {e}");
        assert!(e.message.contains(fragment), "{input:?}: {e}");
    }
}

#[test]
fn long_labels_are_shortened_in_messages() {
    let input = format!("a == {}", "b".repeat(400));
    let e = err(&input);
    assert!(e.message.len() < 120, "{}", e.message);
}

#[test]
fn positions_after_multibyte_characters_are_byte_offsets() {
    // a(0) ' '(1) ==(2) ' '(4) '(5) ü(6..8) '(8) ' '(9) %(10)
    let e = err("a == 'ü' %");
    assert_eq!(e.position, 10);
    assert!(e.position <= "a == 'ü' %".len());
}

#[test]
fn error_positions_are_char_boundaries_within_the_input() {
    for input in [
        "ü",
        "a == 'ü' ü",
        "a == 'b' && 日本",
        "a in {'ü' ü}",
        "has(ü)",
        "has(a ü)",
        "a starts ü",
        "a ü",
        "a == '日本",
        "(((",
        "a == 'b' &&",
        "\u{1F600}",
    ] {
        let e = err(input);
        assert!(e.position <= input.len(), "{input:?}: {e}");
        assert!(input.is_char_boundary(e.position), "{input:?}: {e}");
    }
}

#[test]
fn render_puts_a_caret_under_the_position() {
    let input = "a == 'b' && %";
    let rendered = err(input).render(input);
    assert_eq!(
        rendered,
        "a == 'b' && %\n            ^\nunexpected character '%'"
    );
}

#[test]
fn render_counts_characters_not_bytes() {
    let input = "a == 'ü' %";
    let rendered = err(input).render(input);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[1], "         ^");
}

#[test]
fn render_keeps_the_input_on_one_line() {
    let input = "a == 'b'\n";
    let rendered = err(input).render(input);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines.len(), 3, "{rendered}");
    assert_eq!(lines[0], "a == 'b'\u{2424}");
    assert_eq!(lines[1], "        ^");
    let tabbed = "a\t= 'b'";
    let rendered = err(tabbed).render(tabbed);
    assert_eq!(rendered.lines().nth(1), Some("  ^"));
    assert!(rendered.starts_with("a = 'b'\n"));
}

#[test]
fn render_at_end_of_input() {
    let input = "has(a) &&";
    let rendered = err(input).render(input);
    assert_eq!(rendered.lines().nth(1), Some("         ^"));
}

#[test]
fn render_tolerates_any_position() {
    let e = SelectorError {
        position: 99,
        message: "m".into(),
    };
    assert_eq!(e.render("ab"), "ab\n  ^\nm");
}
