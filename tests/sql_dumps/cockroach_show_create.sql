CREATE TABLE public.users (
	id UUID NOT NULL,
	city VARCHAR NOT NULL,
	name VARCHAR NULL,
	address VARCHAR NULL,
	credit_card VARCHAR NULL,
	CONSTRAINT users_pkey PRIMARY KEY (city ASC, id ASC)
);
CREATE TABLE public.vehicles (
	id UUID NOT NULL,
	city VARCHAR NOT NULL,
	type VARCHAR NULL,
	owner_id UUID NULL,
	creation_time TIMESTAMP NULL,
	status VARCHAR NULL,
	current_location VARCHAR NULL,
	ext JSONB NULL,
	CONSTRAINT vehicles_pkey PRIMARY KEY (city ASC, id ASC),
	INDEX vehicles_auto_index_fk_city_ref_users (city ASC, owner_id ASC)
);
CREATE TABLE public.rides (
	id UUID NOT NULL,
	city VARCHAR NOT NULL,
	vehicle_city VARCHAR NULL,
	rider_id UUID NULL,
	vehicle_id UUID NULL,
	start_address VARCHAR NULL,
	end_address VARCHAR NULL,
	start_time TIMESTAMP NULL,
	end_time TIMESTAMP NULL,
	revenue DECIMAL(10,2) NULL,
	CONSTRAINT rides_pkey PRIMARY KEY (city ASC, id ASC),
	INDEX rides_auto_index_fk_city_ref_users (city ASC, rider_id ASC),
	INDEX rides_auto_index_fk_vehicle_city_ref_vehicles (vehicle_city ASC, vehicle_id ASC),
	CONSTRAINT check_vehicle_city_city CHECK (vehicle_city = city)
);
CREATE TABLE public.user_promo_codes (
	city VARCHAR NOT NULL,
	user_id UUID NOT NULL,
	code VARCHAR NOT NULL,
	"timestamp" TIMESTAMP NULL,
	usage_count INT8 NULL,
	CONSTRAINT user_promo_codes_pkey PRIMARY KEY (city ASC, user_id ASC, code ASC)
);
CREATE TABLE public.audit_log (
	at TIMESTAMPTZ NOT NULL DEFAULT now():::TIMESTAMPTZ,
	message STRING NULL,
	rowid INT8 NOT VISIBLE NOT NULL DEFAULT unique_rowid(),
	CONSTRAINT audit_log_pkey PRIMARY KEY (rowid ASC),
	FAMILY "primary" (at, message, rowid)
);
ALTER TABLE public.vehicles ADD CONSTRAINT vehicles_city_owner_id_fkey FOREIGN KEY (city, owner_id) REFERENCES public.users(city, id);
ALTER TABLE public.rides ADD CONSTRAINT rides_city_rider_id_fkey FOREIGN KEY (city, rider_id) REFERENCES public.users(city, id);
ALTER TABLE public.rides ADD CONSTRAINT rides_vehicle_city_vehicle_id_fkey FOREIGN KEY (vehicle_city, vehicle_id) REFERENCES public.vehicles(city, id);
ALTER TABLE public.user_promo_codes ADD CONSTRAINT user_promo_codes_city_user_id_fkey FOREIGN KEY (city, user_id) REFERENCES public.users(city, id);
-- Validate foreign key constraints. These can fail if there was unvalidated data during the SHOW CREATE ALL TABLES
ALTER TABLE public.vehicles VALIDATE CONSTRAINT vehicles_city_owner_id_fkey;
ALTER TABLE public.rides VALIDATE CONSTRAINT rides_city_rider_id_fkey;
ALTER TABLE public.rides VALIDATE CONSTRAINT rides_vehicle_city_vehicle_id_fkey;
ALTER TABLE public.user_promo_codes VALIDATE CONSTRAINT user_promo_codes_city_user_id_fkey;
