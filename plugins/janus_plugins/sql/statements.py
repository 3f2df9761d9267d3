"""What a statement is (from its first words), and the one-line account of what was skipped."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

#: what the diagram reads
TABLE, ALTER, COMMENT = "table", "alter", "comment"
#: blocks run as they are read (their CREATE/ALTER TABLE statements are read); function bodies are not
BLOCKS = {"DO", "BEGIN", "DECLARE", "IF", "WHILE"}

_OBJECTS = {"TABLE", "VIEW", "INDEX", "FUNCTION", "PROCEDURE", "PROC", "TRIGGER", "SEQUENCE", "TYPE", "SCHEMA",
            "DATABASE", "EXTENSION", "ROLE", "USER", "DOMAIN", "EVENT", "PACKAGE", "SYNONYM", "POLICY",
            "PUBLICATION", "SUBSCRIPTION", "RULE", "AGGREGATE", "OPERATOR", "COLLATION", "CAST", "SERVER",
            "STAGE", "WAREHOUSE", "STREAM", "TASK", "TABLESPACE", "MATERIALIZED", "STATISTICS", "LOGIN",
            "ASSEMBLY", "FULLTEXT", "MACRO", "SECRET", "TEXT", "CONVERSION", "LANGUAGE", "DIRECTORY",
            "PIPE", "FILE", "TAG", "MODEL", "SNAPSHOT", "DICTIONARY", "ACCESS", "TRANSFORM", "FOREIGN",
            "EXTERNAL", "VIRTUAL", "PARTITION", "CONTEXT", "LIBRARY", "DIMENSION", "CLUSTER"}
#: first words of statements that are not DDL the diagram shows
KNOWN = {"SET", "INSERT", "UPDATE", "DELETE", "SELECT", "GRANT", "REVOKE", "DENY", "DROP", "LOCK", "UNLOCK",
         "USE", "COMMIT", "BEGIN", "START", "ROLLBACK", "END", "DO", "IF", "WHILE", "DECLARE", "PRINT", "EXEC",
         "EXECUTE", "CALL", "PRAGMA", "ANALYZE", "ANALYSE", "VACUUM", "TRUNCATE", "COPY", "WITH", "MERGE",
         "REPLACE", "RENAME", "SAVEPOINT", "RELEASE", "REINDEX", "CLUSTER", "REFRESH", "RAISERROR", "SHOW",
         "DESCRIBE", "DESC", "EXPLAIN", "FLUSH", "OPTIMIZE", "CHECKPOINT", "DBCC", "RETURN", "DISCARD", "LISTEN",
         "NOTIFY", "SECURITY", "REASSIGN", "IMPORT", "EXPORT", "LOAD", "INSTALL", "ATTACH", "DETACH", "PUT",
         "GET", "UNDROP", "DEALLOCATE", "PREPARE", "FETCH", "CLOSE", "OPEN", "MOVE", "HANDLER", "CHECKSUM",
         "REPAIR", "KILL", "RESET", "VALUES", "UPSERT", "ABORT", "SUMMARIZE", "CHECK", "ENABLE", "DISABLE",
         "DISCONNECT", "CONNECT", "SPOOL", "WHENEVER", "EXIT", "QUIT", "REM", "PROMPT", "AUDIT", "NOAUDIT",
         "PURGE", "FLASHBACK", "SHUTDOWN", "STARTUP", "RECOVER", "ASSOCIATE", "DISASSOCIATE", "BACKUP",
         "RESTORE", "SETUSER", "REVERT", "WAITFOR", "THROW", "TRY", "GOTO", "BREAK", "CONTINUE", "ADD", "CACHE",
         "UNCACHE", "MSCK", "SQL", "CREATE", "ALTER", "COMMENT", "LABEL", "UNDO", "XA", "HELP",
         "BINLOG", "CHANGE", "STOP", "RESIGNAL", "SIGNAL", "ITERATE", "LEAVE", "LOOP",
         "REPEAT", "OPTION", "FOR", "RAISE", "FORALL", "NULL", "TABLE"}


def kind(bare_head: str) -> str:
    """TABLE, ALTER, COMMENT, or a label such as 'CREATE FUNCTION' or 'INSERT' for what is skipped;
    '' when the first word starts no statement Janus knows."""
    words = re.findall(r"[A-Za-z_]\w*", bare_head[:400])
    upper = [w.upper() for w in words[:12]]
    if not upper:
        return "SET"  # only symbols: client noise such as MySQL's executable comments
    first = upper[0]
    if first == "CREATE":
        for i, w in enumerate(upper[1:], 1):
            if w in _OBJECTS:
                if w == "TABLE":
                    return TABLE
                if w == "VIRTUAL" and upper[i + 1:i + 2] == ["TABLE"]:
                    return "CREATE VIRTUAL TABLE"
                if w == "MATERIALIZED":
                    return "CREATE MATERIALIZED VIEW"
                return f"CREATE {'PROCEDURE' if w == 'PROC' else w}"
            if w in ("UNIQUE", "CLUSTERED", "NONCLUSTERED", "SPATIAL", "BITMAP", "COLUMNSTORE"):
                return "CREATE INDEX"
        return "CREATE"
    if first == "ALTER":
        second = upper[1] if len(upper) > 1 else ""
        return ALTER if second == "TABLE" else f"ALTER {second}".strip()
    if first == "COMMENT" and upper[1:2] == ["ON"]:
        return COMMENT if upper[2:3] in (["TABLE"], ["COLUMN"]) else f"COMMENT ON {' '.join(upper[2:3])}".strip()
    if first in KNOWN:
        return first
    return ""


@dataclass
class Skipped:
    """What the reader passed over: statements by kind, client commands, external tables."""

    statements: list[tuple[int, str]] = field(default_factory=list)  # (offset, kind)
    commands: list[tuple[int, str]] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # created, then dropped by a DROP TABLE further on
    blocks_with_text_ddl: int = 0

    def summary(self, dialect: str) -> str:
        """One line, e.g. 'read as postgres; skipped 40 statements that are not tables (12 INSERT, ...)'."""
        parts = [f"read as {dialect}"]
        if self.statements:
            counts = Counter(k for _, k in self.statements)
            shown = ", ".join(f"{n} {k}" for k, n in counts.most_common(8))
            more = len(counts) - 8
            verb = "is not a table" if len(self.statements) == 1 else "are not tables"
            parts.append(f"skipped {_count(len(self.statements), 'statement')} that {verb} ({shown}"
                         + (f", {more} other kinds" if more > 0 else "") + ")")
        if self.commands:
            counts = Counter(k for _, k in self.commands)
            parts.append(f"{_count(len(self.commands), 'client command')} ("
                         + ", ".join(f"{n} {k}" for k, n in counts.most_common(6)) + ")")
        if self.folded:
            parts.append(f"{_count(len(self.folded), 'partition')} folded into their parent tables")
        if self.dropped:
            parts.append(f"{_count(len(self.dropped), 'table')} created and dropped again further on, not "
                         f"in the diagram ({', '.join(self.dropped[:5])}" + (", ..." if len(self.dropped) > 5 else "")
                         + ")")
        if self.external:
            parts.append(f"foreign keys to {_count(len(self.external), 'table')} outside the file, kept as entities "
                         f"noted 'defined outside this schema' ({', '.join(self.external[:5])}"
                         + (", ..." if len(self.external) > 5 else "") + ")")
        if self.blocks_with_text_ddl:
            parts.append(f"{_count(self.blocks_with_text_ddl, 'procedural block')} building SQL in strings "
                         "(EXECUTE IMMEDIATE/EXEC): not read")
        return "; ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
