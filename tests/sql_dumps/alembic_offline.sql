BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 1975ea83b712

CREATE TYPE accountkind AS ENUM ('personal', 'business');

CREATE TABLE account (
    id SERIAL NOT NULL, 
    name VARCHAR(50) NOT NULL, 
    kind accountkind NOT NULL, 
    description VARCHAR(200), 
    PRIMARY KEY (id)
);

CREATE INDEX ix_account_name ON account (name);

INSERT INTO alembic_version (version_num) VALUES ('1975ea83b712') RETURNING alembic_version.version_num;

-- Running upgrade 1975ea83b712 -> ae1027a6acf

CREATE TABLE "transaction" (
    id SERIAL NOT NULL, 
    account_id INTEGER NOT NULL, 
    amount NUMERIC(12, 2) NOT NULL, 
    booked_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL, 
    PRIMARY KEY (id), 
    FOREIGN KEY(account_id) REFERENCES account (id) ON DELETE CASCADE
);

ALTER TABLE account ADD COLUMN last_transaction_date TIMESTAMP WITHOUT TIME ZONE;

UPDATE alembic_version SET version_num='ae1027a6acf' WHERE alembic_version.version_num = '1975ea83b712';

-- Running upgrade ae1027a6acf -> 27c6a30d7c24

CREATE TABLE tag (
    id SERIAL NOT NULL, 
    label VARCHAR(40) NOT NULL, 
    PRIMARY KEY (id), 
    UNIQUE (label)
);

CREATE TABLE transaction_tag (
    transaction_id INTEGER NOT NULL, 
    tag_id INTEGER NOT NULL, 
    PRIMARY KEY (transaction_id, tag_id)
);

ALTER TABLE transaction_tag ADD CONSTRAINT fk_transaction_tag_transaction FOREIGN KEY(transaction_id) REFERENCES "transaction" (id);

ALTER TABLE transaction_tag ADD CONSTRAINT fk_transaction_tag_tag FOREIGN KEY(tag_id) REFERENCES tag (id);

UPDATE alembic_version SET version_num='27c6a30d7c24' WHERE alembic_version.version_num = 'ae1027a6acf';

COMMIT;

