INSTALL httpfs;
LOAD httpfs;
CREATE SEQUENCE seq_station START 1;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE station (id INTEGER PRIMARY KEY DEFAULT nextval('seq_station'), name VARCHAR, tags VARCHAR[]);
CREATE TABLE reading (
    station_id INTEGER REFERENCES station (id),
    at TIMESTAMP,
    value DOUBLE,
    extra STRUCT(unit VARCHAR, scale INTEGER),
    PRIMARY KEY (station_id, at)
);
CREATE MACRO avg_value(s) AS (SELECT avg(value) FROM reading WHERE station_id = s);
COPY reading FROM 'readings.csv' (HEADER);
