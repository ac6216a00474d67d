-- The AGI hangup hook's own PostgreSQL role (agi-bin/pbx-sms-hangup.agi, run by the asterisk user):
-- it may add calls to the call log and nothing else. Not the rules, not the outbox, not the
-- accounts, and it cannot change or delete a call once recorded: whoever can run code as asterisk
-- gets no further than this role.
--
-- Run it as a PostgreSQL superuser in the pbx-sms database, after `pbx-sms db upgrade` created the
-- tables; replace the password first:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -d pbx_sms -f pbx-sms-agi-role.sql
-- Then in /etc/pbx-sms/agi.toml:
--   database_url = "postgresql://pbx_sms_agi:PASSWORD@127.0.0.1/pbx_sms"
-- With the tables in a schema other than public, grant USAGE on that one, and add
-- ?options=-csearch_path%3DSCHEMA to the URL.

CREATE ROLE pbx_sms_agi LOGIN PASSWORD 'CHANGE-ME-agi-password';
GRANT USAGE ON SCHEMA public TO pbx_sms_agi;
-- The hook inserts a call with INSERT ... ON CONFLICT (pbx, call_id) DO NOTHING RETURNING call_id:
-- the first report of a call wins, and the answer tells a new call from one the AMI listener
-- reported first. PostgreSQL needs INSERT for that, and SELECT on the conflict target's columns and
-- on the returned one: these two columns only, not the numbers, statuses or times of the call log.
-- (DO UPDATE would need UPDATE, which the role does not get.)
GRANT INSERT ON calls TO pbx_sms_agi;
GRANT SELECT (pbx, call_id) ON calls TO pbx_sms_agi;
