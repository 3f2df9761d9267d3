create sequence customer_seq start with 1 increment by 50;

create sequence purchase_order_seq start with 1 increment by 50;

    create table customer (
        id bigint not null,
        email varchar(255) not null,
        name varchar(255),
        primary key (id)
    );

    create table order_item (
        quantity integer not null,
        order_id bigint not null,
        product_sku varchar(255) not null,
        primary key (order_id, product_sku)
    );

    create table order_tags (
        order_id bigint not null,
        tags varchar(255)
    );

    create table product (
        price numeric(38,2),
        sku varchar(255) not null,
        title varchar(255),
        primary key (sku)
    );

    create table purchase_order (
        placed_at timestamp(6) with time zone,
        customer_id bigint not null,
        id bigint not null,
        status varchar(255) check (status in ('NEW','PAID','SHIPPED')),
        primary key (id)
    );

    alter table if exists customer 
       drop constraint if exists UKdwk6cx0afu8bs9o4t536v1j5v;

    alter table if exists customer 
       add constraint UKdwk6cx0afu8bs9o4t536v1j5v unique (email);

    alter table if exists order_item 
       add constraint FKt4dc2r9nbvbujrljv3e23iibt 
       foreign key (order_id) 
       references purchase_order;

    alter table if exists order_item 
       add constraint FK5fn2s2t1xjbl0jugbnh3by2ry 
       foreign key (product_sku) 
       references product;

    alter table if exists order_tags 
       add constraint FKqpb6s6ruxdmh5a0d8mx2rt7ad 
       foreign key (order_id) 
       references purchase_order;

    alter table if exists purchase_order 
       add constraint FK8jtqmh1bgwd6dbw3ds6no5ifr 
       foreign key (customer_id) 
       references customer;
