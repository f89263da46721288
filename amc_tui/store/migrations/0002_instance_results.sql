-- amc-tui history store, schema 2.
-- The instances screen shows each instance's latest result: find it without scanning
-- every execution.
CREATE INDEX executions_by_instance ON executions (instance_uuid, created_at DESC);
