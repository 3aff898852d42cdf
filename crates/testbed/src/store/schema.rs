//! The tables and indexes of the benchmark function set. Every table also
//! has the system indexes `by_id` and `by_creation_time`, as in Convex.

pub struct IndexDef {
    pub name: &'static str,
    pub fields: &'static [&'static str],
}

pub struct TableDef {
    pub name: &'static str,
    pub indexes: &'static [IndexDef],
}

/// Index numbers within a table: the system indexes come first.
pub const BY_ID: u16 = 0;
pub const BY_CREATION_TIME: u16 = 1;

const BY_CHANNEL_RAND: IndexDef = IndexDef {
    name: "by_channel_rand",
    fields: &["channel", "rand"],
};
const BY_RAND: IndexDef = IndexDef {
    name: "by_rand",
    fields: &["rand"],
};

pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "messages",
        indexes: &[BY_CHANNEL_RAND],
    },
    TableDef {
        name: "messages_with_search",
        indexes: &[BY_CHANNEL_RAND, BY_RAND],
    },
    TableDef {
        name: "openclaurd",
        indexes: &[BY_RAND],
    },
    // System tables (`_...`): the backend's own state, read by system
    // functions and the scheduler, never exported.
    TableDef {
        name: "_scheduled_functions",
        indexes: &[],
    },
    TableDef {
        name: "_exports",
        indexes: &[],
    },
    TableDef {
        name: "_environment_variables",
        indexes: &[],
    },
    // Component tables (`<component>/<table>`): only that component's
    // functions use them; invisible to app functions and exports.
    TableDef {
        name: "counter/counters",
        indexes: &[],
    },
];
