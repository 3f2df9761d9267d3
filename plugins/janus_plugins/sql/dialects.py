"""Which database a SQL file was written for, from the marks its tools leave (hand-written: sqlglot
reads a dialect it is told, it does not guess one).

Each dialect has signs with weights (a dump tool's header line weighs most); the dialect with the
highest score of at least ``_ENOUGH`` wins, otherwise the file is read as generic SQL. A file may
name its dialect itself in a ``-- dialect: NAME`` line before its first statement.
"""

from __future__ import annotations

import re

_M = re.I | re.M
_SIGNS: dict[str, list[tuple[re.Pattern, int]]] = {
    "postgres": [
        (re.compile(r"^--\s*PostgreSQL database dump", _M), 20),
        (re.compile(r"^\\(?:restrict|unrestrict|connect|c)\b", _M), 20),
        (re.compile(r"\bALTER\s+TABLE\s+ONLY\b", _M), 10),
        (re.compile(r"\bCREATE\s+EXTENSION\b|\bSET\s+search_path\b|pg_catalog\.", _M), 10),
        (re.compile(r"\$\$|\$[A-Za-z_]\w*\$", _M), 8),
        #: CockroachDB's SHOW CREATE marks (read as PostgreSQL, which it speaks)
        (re.compile(r"\bunique_rowid\s*\(|:::\s*\w|\bNOT\s+VISIBLE\b", _M), 10),
        #: enum types (Prisma, Alembic; DuckDB has them too, so not enough alone)
        (re.compile(r"\bCREATE\s+TYPE\s+\S+\s+AS\s+ENUM\b", _M), 6),
        (re.compile(r"\bOWNER\s+TO\b|\bINHERITS\s*\(|\bPARTITION\s+OF\b|\bBIGSERIAL\b|\bSERIAL\b|\bJSONB\b|"
                    r"\bTIMESTAMPTZ\b|::\w|\bDO\s+\$", _M), 4),
    ],
    "mysql": [
        (re.compile(r"^--\s*(?:MySQL|MariaDB) dump|^#\s*Dump of table|Sequel Pro|phpMyAdmin", _M), 20),
        (re.compile(r"^\s*DELIMITER\s+\S", _M), 20),
        (re.compile(r"/\*!\d{5}|\bENGINE\s*=|\bAUTO_INCREMENT\b", _M), 10),
        (re.compile(r"`\w[^`\n]*`|\bLOCK\s+TABLES\b|\bUNSIGNED\b|\bDEFAULT\s+CHARSET\b", _M), 6),
        (re.compile(r"^#", _M), 4),
    ],
    "tsql": [
        (re.compile(r"^\s*GO\s*$|^\s*:setvar\b", _M), 20),
        (re.compile(r"\[dbo\]|\]\.\[|\bSET\s+ANSI_NULLS\b|\bSET\s+QUOTED_IDENTIFIER\b", _M), 12),
        (re.compile(r"\bIDENTITY\s*\(|\bNVARCHAR\b|\bOBJECT_ID\s*\(|\bCLUSTERED\b|\bUNIQUEIDENTIFIER\b|"
                    r"\bDATETIME2\b|\bNCHAR\b|\bBIT\b", _M), 4),
    ],
    "oracle": [
        (re.compile(r"^\s*/\s*$|\bEXECUTE\s+IMMEDIATE\b|^\s*rem(?:ark)?\b|\bCASCADE\s+CONSTRAINTS\b", _M), 12),
        (re.compile(r"\bVARCHAR2\b|\bNVARCHAR2\b|\bNUMBER\s*\(|\bSYSDATE\b|\bCLOB\b", _M), 8),
        (re.compile(r"^\s*PROMPT\b|\bNUMBER\b", _M), 3),
    ],
    "sqlite": [
        (re.compile(r"\bAUTOINCREMENT\b|\bCREATE\s+VIRTUAL\s+TABLE\b|^\s*PRAGMA\b|\bWITHOUT\s+ROWID\b", _M), 10),
    ],
    "snowflake": [
        (re.compile(r"\bUSE\s+(?:DATABASE|WAREHOUSE|ROLE)\b|\bTIMESTAMP_(?:NTZ|LTZ|TZ)\b|\bVARIANT\b", _M), 10),
        (re.compile(r"\bCREATE\s+OR\s+REPLACE\s+(?:TRANSIENT\s+)?TABLE\b", _M), 4),
    ],
    "bigquery": [
        (re.compile(r"\bINT64\b|\bFLOAT64\b|\bSTRUCT\s*<|\bARRAY\s*<", _M), 10),
        (re.compile(r"`[\w-]+\.\w+\.\w+`", _M), 10),
    ],
}
_ENOUGH = 8
#: read no further than this for signs (dump headers and the first tables tell)
_SCAN = 400_000


def detect(text: str) -> str | None:
    """sqlglot's name of the dialect the text shows the most signs of, or None (generic SQL)."""
    head = text[:_SCAN]
    scores = {name: sum(w for pattern, w in signs if pattern.search(head)) for name, signs in _SIGNS.items()}
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] >= _ENOUGH else None
