-- Database and roles of the petition review portal.
--
-- The postgres image runs this once, as the superuser, when its data directory is empty
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yml). Elsewhere run it with psql >= 15 as a
-- superuser, with PORTAL_OWNER_PASSWORD and PORTAL_WEB_PASSWORD in the environment:
--   psql -v ON_ERROR_STOP=1 -d postgres -f deploy/postgres-init.sql
--
-- Roles:
--   portal_owner  LOGIN; owns the database and every table. Migrations run as it (DATABASE_ADMIN_URL).
--   portal_app    NOLOGIN group named by the grants and row-level security policies (tenants/rls.py APP_ROLE).
--   portal_web    LOGIN member of portal_app; web, worker and cron connect as it (DATABASE_URL).
-- No login role is SUPERUSER or BYPASSRLS: row-level security, the second wall between bureaus, must apply
-- to everything the application does. /readyz reports "down" if the app's role could bypass it.

\getenv owner_password PORTAL_OWNER_PASSWORD
\getenv web_password PORTAL_WEB_PASSWORD
\if :{?owner_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'PORTAL_OWNER_PASSWORD is not set'; END $$;
\endif
\if :{?web_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'PORTAL_WEB_PASSWORD is not set'; END $$;
\endif

CREATE ROLE portal_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE portal_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
CREATE ROLE portal_web LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT
  PASSWORD :'web_password' IN ROLE portal_app;

CREATE DATABASE portal OWNER portal_owner ENCODING 'UTF8' TEMPLATE template0;
-- Only the portal's roles may connect.
REVOKE ALL ON DATABASE portal FROM PUBLIC;
GRANT CONNECT ON DATABASE portal TO portal_app;

\connect portal
-- Since PostgreSQL 15 the public schema belongs to the database owner and nobody else may create in it;
-- say so explicitly. Table privileges for portal_app come from the first migration (ALTER DEFAULT PRIVILEGES).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO portal_app;
