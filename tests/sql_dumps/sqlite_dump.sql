PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE artist (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
INSERT INTO artist VALUES(1,'Queen; the band');
CREATE TABLE album (id INTEGER PRIMARY KEY, title TEXT, artist_id INTEGER REFERENCES artist(id)) WITHOUT ROWID;
CREATE VIRTUAL TABLE album_fts USING fts5(title, content='album');
CREATE TABLE IF NOT EXISTS "album_fts_data"(id INTEGER PRIMARY KEY, block BLOB);
CREATE TRIGGER album_ai AFTER INSERT ON album BEGIN
  INSERT INTO album_fts(rowid, title) VALUES (new.id, new.title);
END;
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('artist',1);
COMMIT;
