import Foundation
import Testing
import TestSupport
@testable import Workbench

/// The keymap table drives both dispatch and help, so these check the table itself.
@Suite struct KeymapTests {
    @Test func everyCommandHasAKeyAndHelp() {
        for command in Command.allCases {
            let bindings = Keymap.bindings.filter { $0.command == command }
            #expect(!bindings.isEmpty, "no key for \(command)")
            #expect(bindings.allSatisfy { !$0.help.isEmpty && !$0.keys.isEmpty })
        }
    }

    @Test func noKeyIsBoundTwiceWhereBothApply() {
        // Contexts consulted together (see `Keymap.command(for:in:)`).
        let groups: [[KeyContext]] = [[.histogramPane, .navigation, .tuning, .histogram, .general], [.filter], [.help]]
        for group in groups {
            var seen: [Key: Command] = [:]
            for b in Keymap.bindings where group.contains(b.context) {
                for k in b.keys {
                    #expect(seen[k] == nil, "\(k) bound to \(seen[k].map { "\($0)" } ?? "") and \(b.command)")
                    seen[k] = b.command
                }
            }
        }
    }

    /// The help screen as the user sees it, paged through with PgDn: every binding's keys and text are on it,
    /// and pressing each listed key in its context does what the keymap says. The rendered screen is read
    /// here, not the generator's lines, so a section dropped or cut off by the layout fails.
    @Test func helpScreenShowsEveryBindingAndKeysDoWhatItSays() {
        var s = FakeModel.loadedState(width: 120, height: 40)
        _ = reduce(&s, .input(.key(.character("?"))))
        var seen: [String] = []
        for _ in 0..<20 {
            seen += view(s, width: 120, height: 40).lines
            _ = reduce(&s, .input(.key(.pageDown)))
        }
        let screen = seen.map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        for b in Keymap.bindings {
            let keys = b.keys.map(Keymap.label).joined(separator: " ")
            #expect(screen.contains { $0.contains(keys + " " + b.help) }, "help screen lacks '\(keys)  \(b.help)'")
        }
    }

    /// The keys DESIGN.md §6 promises, written out by hand: each is bound to what the design says.
    @Test func designKeysAreBound() {
        let s = FakeModel.loadedState()
        let expected: [(Key, Command)] = [
            (.character("q"), .quit), (.character("?"), .help), (.character("/"), .startFilter),
            (.tab, .nextPane), (.character("g"), .first), (.character("G"), .last), (.up, .moveUp),
            (.character("k"), .moveUp), (.down, .moveDown), (.character("j"), .moveDown), (.pageUp, .pageUp),
            (.pageDown, .pageDown), (.character("w"), .savePlan), (.character(" "), .toggleMark),
        ]
        for (key, command) in expected {
            #expect(Keymap.command(for: key, in: s) == command, "\(key) should be \(command)")
        }
        var help = s
        help.showHelp = true
        #expect(Keymap.command(for: .escape, in: help) == .closeHelp)
    }

    @Test func dispatchFollowsTheTable() {
        var s = FakeModel.loadedState()
        #expect(Keymap.command(for: .character("+"), in: s) == .bitsUp)
        #expect(Keymap.command(for: .character("="), in: s) == .bitsUp)
        #expect(Keymap.command(for: .left, in: s) == nil)
        s.pane = .histogram
        #expect(Keymap.command(for: .left, in: s) == .thresholdDown)
        s.isEditingFilter = true
        #expect(Keymap.command(for: .character("q"), in: s) == nil)   // typed into the filter
        s.isEditingFilter = false
        s.showHelp = true
        #expect(Keymap.command(for: .character("q"), in: s) == .closeHelp)
    }
}

@Suite struct ThemeTests {
    static let themes = Fixtures.repositoryRoot + "/Themes"

    @Test func unknownKeyAndBadColourWarnMissingKeysDefault() {
        let text = """
            # a partial theme
            theme[main_bg]="#000000"
            theme[no_such_key]="#123456"
            theme[hist_bar]="blue"
            not a theme line
            """
        let (theme, warnings) = Theme.parse(text, name: "t")
        #expect(theme[.mainBackground] == RGB(0, 0, 0))
        #expect(theme[.histogramBar] == Theme.dark[.histogramBar])
        #expect(theme[.title] == Theme.dark[.title])
        #expect(warnings.count == 3)
        #expect(warnings.contains { $0.contains("unknown key 'no_such_key'") })
        #expect(warnings.contains { $0.contains("'blue' is not a #rrggbb colour") })
    }

    @Test func bundledThemesParseCleanlyAndCoverEveryRole() throws {
        for name in ["dark", "light", "mono"] {
            let (theme, warnings) = try Theme.load(nameOrPath: name, themesDirectory: Self.themes)
            #expect(warnings.isEmpty, "\(name): \(warnings)")
            #expect(theme.name == name)
            let text = try String(contentsOfFile: Self.themes + "/\(name).theme", encoding: .utf8)
            for role in ThemeRole.allCases {
                #expect(text.contains("theme[\(role.rawValue)]="), "\(name).theme lacks \(role.rawValue)")
            }
        }
    }

    @Test func darkFileMatchesTheBuiltInTheme() throws {
        let (theme, _) = try Theme.load(nameOrPath: "dark", themesDirectory: Self.themes)
        #expect(theme.colors == Theme.dark.colors)
    }

    @Test func monoIsGreysOnly() throws {
        let (theme, _) = try Theme.load(nameOrPath: "mono", themesDirectory: Self.themes)
        for role in ThemeRole.allCases {
            let c = theme[role]
            #expect(c.r == c.g && c.g == c.b, "\(role) is \(c)")
        }
    }

    @Test func pathsAreReadDirectlyAndUnknownNamesAreErrors() throws {
        let (theme, _) = try Theme.load(nameOrPath: Self.themes + "/light.theme", themesDirectory: "/nonexistent")
        #expect(theme.name == "light")
        #expect(throws: ThemeLoadError.self) { try Theme.load(nameOrPath: "neon", themesDirectory: Self.themes) }
        do {
            _ = try Theme.load(nameOrPath: "neon", themesDirectory: Self.themes)
        } catch {
            #expect(error.message == "unknown theme 'neon' (available: dark, light, mono)")
        }
        #expect(throws: ThemeLoadError.self) { try Theme.load(nameOrPath: "/no/such.theme", themesDirectory: Self.themes) }
    }

    @Test func fileTextRoundTrips() {
        let text = Theme.dark.fileText(header: ["test"])
        let (theme, warnings) = Theme.parse(text, name: "x")
        #expect(warnings.isEmpty)
        #expect(theme.colors == Theme.dark.colors)
    }
}
