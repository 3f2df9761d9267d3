create or replace schema SALES;

create or replace TABLE CUSTOMERS (
	ID NUMBER(38,0) NOT NULL autoincrement start 1 increment 1 noorder,
	NAME VARCHAR(16777216),
	ATTRIBUTES VARIANT,
	CREATED_AT TIMESTAMP_NTZ(9) DEFAULT CURRENT_TIMESTAMP(),
	primary key (ID)
);
create or replace TABLE ORDERS cluster by (ORDERED_ON)(
	ID NUMBER(38,0) NOT NULL,
	CUSTOMER_ID NUMBER(38,0) NOT NULL,
	ORDERED_ON DATE,
	TOTAL NUMBER(12,2),
	unique (ID),
	primary key (ID),
	foreign key (CUSTOMER_ID) references RAW.SALES.CUSTOMERS(ID)
)COMMENT='one row per order'
;
create or replace TRANSIENT TABLE ORDER_LINES (
	ORDER_ID NUMBER(38,0) NOT NULL,
	LINE_NO NUMBER(38,0) NOT NULL,
	SKU VARCHAR(32) COMMENT 'stock keeping unit',
	primary key (ORDER_ID, LINE_NO),
	constraint FK_LINES_ORDER foreign key (ORDER_ID) references RAW.SALES.ORDERS(ID)
);
create or replace view BIG_ORDERS(
	ID,
	TOTAL
) as select ID, TOTAL from ORDERS where TOTAL > 1000;
CREATE OR REPLACE FUNCTION "ORDER_TAX"("AMOUNT" NUMBER(12,2))
RETURNS NUMBER(12,2)
LANGUAGE SQL
AS '
    amount * 0.2
';
CREATE OR REPLACE PROCEDURE "REFRESH_TOTALS"()
RETURNS VARCHAR(16777216)
LANGUAGE SQL
EXECUTE AS OWNER
AS '
begin
  update ORDERS set TOTAL = 0 where TOTAL is null;
  return ''done'';
end
';
create or replace stream ORDERS_STREAM on table ORDERS;
