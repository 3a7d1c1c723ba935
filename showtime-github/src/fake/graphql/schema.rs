//! The slice of GitHub's GraphQL schema the fake serves, as static tables:
//! object and interface types with their fields and arguments, and the
//! input types (scalars, enums, input objects) arguments and variables are
//! checked against. Names and shapes are GitHub's; anything GitHub has that
//! is not listed here is answered as an unknown field, with a hint that the
//! fake does not serve it.

/// What kind of output type a [`TypeDef`] is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// An object type with fields.
    Object,
    /// An interface, and the object types implementing it.
    Interface(&'static [&'static str]),
    /// A scalar or enum: selected without a selection set.
    Leaf,
}

/// An output type.
#[derive(Debug)]
pub(crate) struct TypeDef {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// The interfaces an object type implements.
    pub(crate) implements: &'static [&'static str],
    pub(crate) fields: &'static [FieldDef],
}

impl TypeDef {
    pub(crate) fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The object types a value of this type can be.
    pub(crate) fn possible(&'static self) -> Vec<&'static str> {
        match self.kind {
            Kind::Interface(possible) => possible.to_vec(),
            Kind::Object | Kind::Leaf => vec![self.name],
        }
    }
}

/// A field of an output type.
#[derive(Debug)]
pub(crate) struct FieldDef {
    pub(crate) name: &'static str,
    /// The output type in GraphQL notation (`"Label"`, `"[Label]"`, `"ID!"`).
    pub(crate) ty: &'static str,
    pub(crate) args: &'static [ArgDef],
}

/// An argument of a field, or a field of an input object.
#[derive(Debug)]
pub(crate) struct ArgDef {
    pub(crate) name: &'static str,
    /// The input type in GraphQL notation (`"[ID!]!"`).
    pub(crate) ty: &'static str,
}

/// A built-in scalar input type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Id,
    String,
    Int,
    Float,
    Boolean,
}

/// A named input type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum InputDef {
    Scalar(Scalar),
    Enum(&'static [&'static str]),
    Object(&'static [ArgDef]),
}

const fn field(name: &'static str, ty: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty,
        args: &[],
    }
}

const fn with_args(name: &'static str, ty: &'static str, args: &'static [ArgDef]) -> FieldDef {
    FieldDef { name, ty, args }
}

const fn arg(name: &'static str, ty: &'static str) -> ArgDef {
    ArgDef { name, ty }
}

const fn object(
    name: &'static str,
    implements: &'static [&'static str],
    fields: &'static [FieldDef],
) -> TypeDef {
    TypeDef {
        name,
        kind: Kind::Object,
        implements,
        fields,
    }
}

const fn leaf(name: &'static str) -> TypeDef {
    TypeDef {
        name,
        kind: Kind::Leaf,
        implements: &[],
        fields: &[],
    }
}

const PAGE: &[ArgDef] = &[arg("first", "Int"), arg("last", "Int")];
const LABELABLE: &[&str] = &["Labelable", "Node"];
const CLIENT_ID: FieldDef = field("clientMutationId", "String");

static TYPES: &[TypeDef] = &[
    object(
        "Query",
        &[],
        &[with_args(
            "repository",
            "Repository",
            &[
                arg("owner", "String!"),
                arg("name", "String!"),
                arg("followRenames", "Boolean"),
            ],
        )],
    ),
    object(
        "Mutation",
        &[],
        &[
            with_args(
                "addLabelsToLabelable",
                "AddLabelsToLabelablePayload",
                &[arg("input", "AddLabelsToLabelableInput!")],
            ),
            with_args(
                "removeLabelsFromLabelable",
                "RemoveLabelsFromLabelablePayload",
                &[arg("input", "RemoveLabelsFromLabelableInput!")],
            ),
            with_args(
                "createLabel",
                "CreateLabelPayload",
                &[arg("input", "CreateLabelInput!")],
            ),
            with_args(
                "deleteLabel",
                "DeleteLabelPayload",
                &[arg("input", "DeleteLabelInput!")],
            ),
        ],
    ),
    object(
        "Repository",
        &["Node"],
        &[
            field("id", "ID!"),
            field("name", "String!"),
            field("nameWithOwner", "String!"),
            with_args("label", "Label", &[arg("name", "String!")]),
            with_args("pullRequest", "PullRequest", &[arg("number", "Int!")]),
            with_args("issue", "Issue", &[arg("number", "Int!")]),
        ],
    ),
    object(
        "Label",
        &["Node"],
        &[
            field("id", "ID!"),
            field("name", "String!"),
            field("color", "String!"),
            field("description", "String"),
            with_args(
                "issues",
                "IssueConnection",
                &[arg("states", "[IssueState!]")],
            ),
            with_args(
                "pullRequests",
                "PullRequestConnection",
                &[arg("states", "[PullRequestState!]")],
            ),
        ],
    ),
    object(
        "PullRequest",
        LABELABLE,
        &[
            field("id", "ID!"),
            field("number", "Int!"),
            field("title", "String!"),
            field("state", "PullRequestState!"),
            with_args("labels", "LabelConnection", PAGE),
        ],
    ),
    object(
        "Issue",
        LABELABLE,
        &[
            field("id", "ID!"),
            field("number", "Int!"),
            field("title", "String!"),
            field("state", "IssueState!"),
            with_args("labels", "LabelConnection", PAGE),
        ],
    ),
    TypeDef {
        name: "Labelable",
        kind: Kind::Interface(&["PullRequest", "Issue"]),
        implements: &[],
        fields: &[with_args("labels", "LabelConnection", PAGE)],
    },
    TypeDef {
        name: "Node",
        kind: Kind::Interface(&["Repository", "Label", "PullRequest", "Issue"]),
        implements: &[],
        fields: &[field("id", "ID!")],
    },
    object(
        "LabelConnection",
        &[],
        &[field("totalCount", "Int!"), field("nodes", "[Label]")],
    ),
    object("IssueConnection", &[], &[field("totalCount", "Int!")]),
    object("PullRequestConnection", &[], &[field("totalCount", "Int!")]),
    object(
        "AddLabelsToLabelablePayload",
        &[],
        &[CLIENT_ID, field("labelable", "Labelable")],
    ),
    object(
        "RemoveLabelsFromLabelablePayload",
        &[],
        &[CLIENT_ID, field("labelable", "Labelable")],
    ),
    object(
        "CreateLabelPayload",
        &[],
        &[CLIENT_ID, field("label", "Label")],
    ),
    object("DeleteLabelPayload", &[], &[CLIENT_ID]),
    leaf("ID"),
    leaf("String"),
    leaf("Int"),
    leaf("Boolean"),
    leaf("PullRequestState"),
    leaf("IssueState"),
];

const LABELS_INPUT: &[ArgDef] = &[
    arg("labelableId", "ID!"),
    arg("labelIds", "[ID!]!"),
    arg("clientMutationId", "String"),
];

const CREATE_LABEL_INPUT: &[ArgDef] = &[
    arg("repositoryId", "ID!"),
    arg("name", "String!"),
    arg("color", "String!"),
    arg("description", "String"),
    arg("clientMutationId", "String"),
];

const DELETE_LABEL_INPUT: &[ArgDef] = &[arg("id", "ID!"), arg("clientMutationId", "String")];

/// The output type named `name`.
pub(crate) fn type_def(name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|ty| ty.name == name)
}

/// The input type named `name`.
pub(crate) fn input_def(name: &str) -> Option<InputDef> {
    Some(match name {
        "ID" => InputDef::Scalar(Scalar::Id),
        "String" => InputDef::Scalar(Scalar::String),
        "Int" => InputDef::Scalar(Scalar::Int),
        "Float" => InputDef::Scalar(Scalar::Float),
        "Boolean" => InputDef::Scalar(Scalar::Boolean),
        "IssueState" => InputDef::Enum(&["OPEN", "CLOSED"]),
        "PullRequestState" => InputDef::Enum(&["OPEN", "CLOSED", "MERGED"]),
        "AddLabelsToLabelableInput" | "RemoveLabelsFromLabelableInput" => {
            InputDef::Object(LABELS_INPUT)
        }
        "CreateLabelInput" => InputDef::Object(CREATE_LABEL_INPUT),
        "DeleteLabelInput" => InputDef::Object(DELETE_LABEL_INPUT),
        _ => return None,
    })
}

/// Whether a value of object type `object` can be used where `condition`
/// (an object type or an interface) is expected.
pub(crate) fn satisfies(object: &str, condition: &str) -> bool {
    object == condition || type_def(object).is_some_and(|ty| ty.implements.contains(&condition))
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_type;
    use super::*;

    #[test]
    fn every_type_named_in_the_tables_exists_and_parses() {
        for ty in TYPES {
            for field in ty.fields {
                let output = parse_type(field.ty).expect("output type parses");
                assert!(type_def(output.base()).is_some(), "{}", field.ty);
                for arg in field.args {
                    let input = parse_type(arg.ty).expect("input type parses");
                    assert!(input_def(input.base()).is_some(), "{}", arg.ty);
                }
            }
            for interface in ty.implements {
                assert!(matches!(
                    type_def(interface).map(|i| i.kind),
                    Some(Kind::Interface(possible)) if possible.contains(&ty.name)
                ));
            }
        }
    }
}
