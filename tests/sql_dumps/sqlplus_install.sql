rem  Install script for the library schema
SET ECHO OFF
PROMPT Creating tables ...
@@helper.sql

BEGIN EXECUTE IMMEDIATE 'DROP TABLE loan CASCADE CONSTRAINTS'; EXCEPTION WHEN OTHERS THEN NULL; END;
/

CREATE TABLE book
  ( book_id   NUMBER(6) CONSTRAINT book_id_nn NOT NULL
  , title     VARCHAR2(200)
  ) TABLESPACE users PCTFREE 10;

CREATE TABLE loan
  ( loan_id   NUMBER(8)
  , book_id   NUMBER(6)
  , CONSTRAINT loan_pk PRIMARY KEY (loan_id)
  ) ORGANIZATION INDEX;

ALTER TABLE book ADD ( CONSTRAINT book_pk PRIMARY KEY (book_id) );
ALTER TABLE loan ADD ( CONSTRAINT loan_book_fk FOREIGN KEY (book_id) REFERENCES book (book_id) );

CREATE OR REPLACE PROCEDURE close_loan (p_id NUMBER) IS
  v_count NUMBER;
BEGIN
  SELECT COUNT(*) INTO v_count FROM loan WHERE loan_id = p_id;
  IF v_count > 0 THEN
    DELETE FROM loan WHERE loan_id = p_id;
  END IF;
END close_loan;
/

CREATE OR REPLACE VIEW open_loans AS SELECT * FROM loan;
COMMENT ON TABLE open_loans IS 'a view, not a table';
COMMENT ON TABLE book IS 'Books on the shelves';
