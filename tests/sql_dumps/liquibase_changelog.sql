--liquibase formatted sql

--changeset ann:1
CREATE TABLE author (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL
);
--rollback DROP TABLE author;

--changeset ann:2
CREATE TABLE book (
    id BIGSERIAL PRIMARY KEY,
    title VARCHAR(255),
    author_id BIGINT
);
ALTER TABLE book ADD CONSTRAINT fk_book_author FOREIGN KEY (author_id) REFERENCES author (id);
--rollback DROP TABLE book;

--changeset ann:3 splitStatements:false
CREATE FUNCTION bump() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql;
