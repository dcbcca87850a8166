-- The app's own table, owned by the app (not by pytrue): each note belongs to its author.
create table if not exists public.notes (
  id bigint generated always as identity primary key,
  author uuid not null default auth.uid() references auth.users (id) on delete cascade,
  body text not null check (length(body) between 1 and 1000),
  created_at timestamptz not null default now()
);
alter table public.notes enable row level security;
drop policy if exists "authors read their notes" on public.notes;
create policy "authors read their notes" on public.notes for select to authenticated using (author = auth.uid());
drop policy if exists "authors write their notes" on public.notes;
create policy "authors write their notes" on public.notes for insert to authenticated with check (author = auth.uid());
drop policy if exists "authors delete their notes" on public.notes;
create policy "authors delete their notes" on public.notes for delete to authenticated using (author = auth.uid());
grant usage on schema public to anon, authenticated;
grant select, insert, delete on public.notes to authenticated;
