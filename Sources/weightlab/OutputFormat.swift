import ArgumentParser

/// The `--format` of the commands that print tables (report, compare, eval, sweep): one list of choices, so
/// every command spells them the same way.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, json, csv }
