-- dialect: postgres
-- A neighbourhood lending library: branches, staff, members, the catalogue and loans.

-- The library's branches
-- Opening hours: Tuesday to Saturday, 10:00 to 18:00
CREATE TABLE branch (
    id          SERIAL PRIMARY KEY,
    name        VARCHAR(80) NOT NULL UNIQUE,
    address     TEXT NOT NULL,
    phone       VARCHAR(20)                    -- the front desk's number
);

-- Staff who run the front desk
CREATE TABLE librarian (
    id          SERIAL PRIMARY KEY,
    branch_id   INTEGER NOT NULL REFERENCES branch (id),   -- label: works at
    full_name   VARCHAR(120) NOT NULL,
    role        VARCHAR(30) NOT NULL DEFAULT 'desk'        -- desk, cataloguer or head librarian
);

-- People with a library card
-- Card fee: free for children, 12 euros a year for adults
CREATE TABLE member (
    id             SERIAL PRIMARY KEY,
    card_number    CHAR(10) NOT NULL UNIQUE,
    full_name      VARCHAR(120) NOT NULL,
    email          VARCHAR(200) UNIQUE,
    home_branch_id INTEGER REFERENCES branch (id),         -- label: is registered at
    joined_on      DATE NOT NULL DEFAULT CURRENT_DATE,
    max_loans      SMALLINT NOT NULL DEFAULT 5             -- children may borrow 3 items at once
);

CREATE TABLE author (
    id          SERIAL PRIMARY KEY,
    full_name   VARCHAR(120) NOT NULL,
    born        SMALLINT
);

CREATE TABLE book (
    isbn        CHAR(13) PRIMARY KEY,
    title       VARCHAR(300) NOT NULL,
    published   SMALLINT,
    genre       VARCHAR(40)                   -- fiction, history, children, ...
);

-- Who wrote which book
CREATE TABLE book_author (
    book_isbn   CHAR(13) NOT NULL REFERENCES book (isbn),
    author_id   INTEGER NOT NULL REFERENCES author (id),
    PRIMARY KEY (book_isbn, author_id)
);

-- One physical copy on a shelf
CREATE TABLE copy (
    id          SERIAL PRIMARY KEY,
    book_isbn   CHAR(13) NOT NULL,
    branch_id   INTEGER NOT NULL,
    shelf_mark  VARCHAR(20) NOT NULL,
    condition   VARCHAR(20) NOT NULL DEFAULT 'good',   -- good, worn or damaged
    CONSTRAINT copy_book_fk FOREIGN KEY (book_isbn) REFERENCES book (isbn),      -- label: is a copy of
    CONSTRAINT copy_branch_fk FOREIGN KEY (branch_id) REFERENCES branch (id)     -- label: is shelved at
);

CREATE TABLE loan (
    id            SERIAL PRIMARY KEY,
    copy_id       INTEGER NOT NULL REFERENCES copy (id),     -- label: lends out
    member_id     INTEGER NOT NULL REFERENCES member (id),   -- label: is made to
    lent_by       INTEGER REFERENCES librarian (id),   -- empty when borrowed at the self-service kiosk
    lent_on       DATE NOT NULL,
    due_on        DATE NOT NULL,
    returned_on   DATE,
    renewals      SMALLINT NOT NULL DEFAULT 0
);

COMMENT ON TABLE loan IS 'Loan period: three weeks, renewable twice unless another member holds the book';
COMMENT ON COLUMN loan.due_on IS 'a late fee of 20 cents a day starts the day after';

CREATE INDEX loan_member_idx ON loan (member_id);
