"""Schema migrations for the SQLite store, in order. Never edit a released migration:
append a new one. `PRAGMA user_version` records how many have been applied."""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first schema
    (
        """CREATE TABLE intake (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            payload TEXT NOT NULL,
            source TEXT NOT NULL,
            received_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            available_at REAL NOT NULL,
            lease_owner TEXT,
            lease_until REAL,
            last_error TEXT,
            UNIQUE (site, comment_id, version)
        )""",
        "CREATE INDEX intake_ready ON intake(state, available_at)",
        """CREATE TABLE webhook_events (
            site TEXT NOT NULL,
            event_id TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (site, event_id)
        )""",
        """CREATE TABLE cursors (
            site TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (site, name)
        )""",
        """CREATE TABLE actions (
            key TEXT PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            action TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('started', 'done', 'failed')),
            attempts INTEGER NOT NULL,
            detail TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            source TEXT NOT NULL,
            text TEXT NOT NULL,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            author_role TEXT NOT NULL,
            url TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            parent_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            received_at REAL NOT NULL,
            decided_at REAL NOT NULL,
            verdict TEXT NOT NULL,
            would_verdict TEXT NOT NULL,
            dry_run INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            hits TEXT NOT NULL,
            scores TEXT NOT NULL,
            thresholds TEXT NOT NULL,
            model_version TEXT NOT NULL,
            rules_version TEXT NOT NULL,
            action TEXT NOT NULL,
            action_status TEXT NOT NULL,
            action_key TEXT NOT NULL,
            action_attempts INTEGER NOT NULL,
            action_detail TEXT NOT NULL,
            UNIQUE (site, comment_id, version)
        )""",
        "CREATE INDEX decisions_decided ON decisions(decided_at)",
        "CREATE INDEX decisions_verdict ON decisions(verdict, decided_at)",
        """CREATE TABLE decision_hits (
            decision_id INTEGER NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL
        )""",
        "CREATE INDEX decision_hits_rule ON decision_hits(rule_id, decision_id)",
        "CREATE INDEX decision_hits_decision ON decision_hits(decision_id)",
    ),
)

MIGRATIONS += (
    # 2: moderators' verdicts on decisions (confirm / restore / dismiss), with who and when
    (
        """CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            comment_id TEXT NOT NULL,
            version TEXT NOT NULL,
            decision_id INTEGER REFERENCES decisions(id) ON DELETE SET NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('confirm', 'restore', 'dismiss')),
            moderator TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            action_key TEXT NOT NULL DEFAULT '',
            action_status TEXT NOT NULL DEFAULT '',
            action_detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX verdicts_comment ON verdicts(site, comment_id, version)",
        "CREATE INDEX verdicts_decision ON verdicts(decision_id)",
    ),
)
