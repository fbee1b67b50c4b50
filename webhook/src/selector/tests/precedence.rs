//! §3.3 precedence: match operators > parentheses > `!` > `&&` > `||`.

use super::{canon, matches, ok};

const DOC_EXAMPLE: &str =
    "! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}";

#[test]
fn docs_example_brackets_as_documented() {
    assert_eq!(
        ok(DOC_EXAMPLE),
        ok(
            "(!has(my-label)) || ((my-label starts with 'prod') && (role in {'frontend','business'}))"
        )
    );
    assert_eq!(
        canon(DOC_EXAMPLE),
        r#"(!has(my-label) || (my-label starts with "prod" && role in {"business", "frontend"}))"#
    );
    assert!(matches(DOC_EXAMPLE, &[("role", "db")]));
    assert!(!matches(DOC_EXAMPLE, &[("my-label", "production")]));
    assert!(matches(
        DOC_EXAMPLE,
        &[("my-label", "production"), ("role", "business")]
    ));
}

#[test]
fn and_binds_tighter_than_or() {
    let input = "a == 'x' || b == 'y' && c == 'z'";
    assert_eq!(canon(input), r#"(a == "x" || (b == "y" && c == "z"))"#);
    assert!(matches(input, &[("b", "y"), ("c", "z")]));
    assert!(matches(input, &[("a", "x")]));
    assert!(!matches(input, &[("b", "y")]));

    let input = "a == 'x' && b == 'y' || c == 'z'";
    assert_eq!(canon(input), r#"((a == "x" && b == "y") || c == "z")"#);
    assert!(matches(input, &[("c", "z")]));
}

#[test]
fn not_binds_tighter_than_and() {
    let input = "!a == 'x' && b == 'y'";
    assert_eq!(canon(input), r#"(!a == "x" && b == "y")"#);
    assert!(matches(input, &[("b", "y")]));
    assert!(!matches(input, &[("a", "x"), ("b", "y")]));
}

#[test]
fn parentheses_override() {
    let input = "(a == 'x' || b == 'y') && c == 'z'";
    assert_eq!(canon(input), r#"((a == "x" || b == "y") && c == "z")"#);
    assert!(!matches(input, &[("a", "x")]));
    assert!(matches(input, &[("a", "x"), ("c", "z")]));

    let input = "!(a == 'x' && b == 'y')";
    assert_eq!(canon(input), r#"!(a == "x" && b == "y")"#);
    assert!(matches(input, &[("a", "x")]));
    assert!(!matches(input, &[("a", "x"), ("b", "y")]));
}

#[test]
fn negations_inside_or() {
    let input = "! a == 'a1' || ! b == 'b1'";
    assert!(!matches(input, &[("a", "a1"), ("b", "b1")]));
    assert!(matches(input, &[("a", "a1")]));
    assert!(matches("!(!has(a) || has(b))", &[("a", "a")]));
}
