-- pytrue-owned-tables: pytrue_rate_limits
-- Shared send-rate budgets (GOTRUE_RATE_LIMIT_EMAIL_SENT, GOTRUE_RATE_LIMIT_SMS_SENT) so that every
-- pytrue process of a deployment spends one budget. Not a GoTrue table: GoTrue keeps these counters
-- in process memory. Only creates a pytrue-owned table, idempotently, so the runner also applies it
-- (untracked) on a schema GoTrue manages (docs/adr/0007).
create table if not exists {{namespace}}.pytrue_rate_limits (
    key text not null,
    kind text not null default '',
    stamp timestamptz null,
    used bigint not null default 0,
    updated_at timestamptz not null default now(),
    constraint pytrue_rate_limits_pkey primary key (key)
);
alter table {{namespace}}.pytrue_rate_limits enable row level security;
comment on table {{namespace}}.pytrue_rate_limits is 'pytrue: shared send-rate budgets (not a GoTrue table).';
