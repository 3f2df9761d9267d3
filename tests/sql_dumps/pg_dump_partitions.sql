--
-- PostgreSQL database dump
--

\restrict abc123

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE SCHEMA sales;
CREATE SCHEMA archive;

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
  CREATE TABLE not_a_table (x int);
  NEW.updated := now(); RETURN NEW;
END $_$;

CREATE TABLE public.customer (
    customer_id integer NOT NULL,
    "full name" text
);

CREATE TABLE public.payment (
    payment_id integer NOT NULL,
    customer_id integer NOT NULL,
    amount numeric(5,2)
);

CREATE TABLE public.payment_p2007_01 (
    CONSTRAINT payment_p2007_01_check CHECK ((payment_id > 0))
)
INHERITS (public.payment);

CREATE TABLE sales.orders (
    id bigint NOT NULL,
    placed date NOT NULL,
    customer_id integer
)
PARTITION BY RANGE (placed);

CREATE TABLE sales.orders_2024 PARTITION OF sales.orders
FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE archive.orders (
    id bigint NOT NULL,
    note text
);

COPY public.customer (customer_id, "full name") FROM stdin;
1	Ann; CREATE TABLE x (y int);
\.

ALTER TABLE ONLY public.customer
    ADD CONSTRAINT customer_pkey PRIMARY KEY (customer_id);
ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_pkey PRIMARY KEY (payment_id);
ALTER TABLE ONLY public.payment_p2007_01
    ADD CONSTRAINT payment_p2007_01_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(customer_id);
ALTER TABLE ONLY public.payment
    ADD CONSTRAINT payment_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(customer_id);
ALTER TABLE ONLY sales.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id, placed);
ALTER TABLE ONLY archive.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
ALTER TABLE sales.orders
    ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(customer_id);
ALTER TABLE public.customer OWNER TO app;
GRANT SELECT ON public.customer TO reporting;

\unrestrict abc123
