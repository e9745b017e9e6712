// The recipe for a new document kind (docs/architecture.md), followed by a
// kind that exists only here: a record, its codec and table, a descriptor,
// and its table created by the test. Every generic path then works for it:
// the engine's keyed rows, the mirror's one-file-per-row sync, its check and
// its stray removal.
#include <array>
#include <chrono>
#include <thread>

#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>

#include "engine/tables.h"
#include "mirror/mirror.h"
#include "store/kinds.h"
#include "store/storage_impl.h"
#include "test_util.h"

namespace prodigy {

// Step 1: the record.
struct Note {
  std::string note_id;
  std::string title;
  int64_t pinned = 0;
  std::string json;
  std::string updated_at;
};

namespace {

// Step 2: its columns, spelled once, and its table.
using namespace engine::field;
constexpr engine::RowCodec<Note, 6> kNoteCodec(std::array<engine::Field<Note>, 6>{{
    Text<&Note::note_id>("note_id", true),
    Text<&Note::title>("title"),
    Int<&Note::pinned>("pinned"),
    Text<&Note::json>("json", true),
    Text<&Note::updated_at>("updated_at", true),
    SourceId<Note>(),
}});
constexpr engine::TableSpec kNotes{"notes", kNoteCodec.columns, 1, "note_id", "source_id"};

// Step 3: the descriptor.
const internal::DocumentKind kNoteKind{
    .name = "note",
    .table = &kNotes,
    .change = "note",
    .folder = "notes",
    .file_suffix = ".note.json",
    .time_column = "",
    .live_file_first = false,
    .key_from_text = [](const std::string& key1, const std::string&) { return internal::RowKey{key1}; }};

}  // namespace

namespace internal {
template <>
struct KindOf<Note> {
  static constexpr const auto& kCodec = kNoteCodec;
  static const DocumentKind& kind() { return kNoteKind; }
};
}  // namespace internal

namespace {

using test::ReadAll;
using test::Sandbox;
namespace fs = std::filesystem;

// Step 4 (a migration in the real recipe): the table.
void CreateNotesTable(const fs::path& db_path) {
  SQLite::Database db(db_path.string(), SQLite::OPEN_READWRITE);
  db.exec(
      "CREATE TABLE notes (note_id TEXT PRIMARY KEY, title TEXT, pinned INTEGER, json TEXT NOT NULL, "
      "updated_at TEXT NOT NULL, source_id INTEGER)");
}

Note MakeNote(const std::string& id, const std::string& title) {
  Note n;
  n.note_id = id;
  n.title = title;
  n.pinned = 1;
  n.json = fmt::format(R"({{"note_id":"{}","title":"{}"}})", id, title);
  n.updated_at = "2025-09-20T17:03:12Z";
  return n;
}

void SaveNote(engine::Engine& engine, const Note& n) {
  engine.Write([&](engine::WriteTxn& txn) {
    internal::PutRow(txn, n);
    txn.LogChange(kNoteKind.change, n.note_id);
  });
}

TEST_CASE(
    "a kind defined by a descriptor is stored, read, mirrored, checked and deleted by the generic paths" *
    doctest::test_suite("sqlite")) {
  Sandbox sb;
  GlobalStorage storage = sb.Open();
  CreateNotesTable(storage.location().db_path);
  GlobalStorage::Impl& impl = internal::ImplOf(storage);
  std::vector<const internal::DocumentKind*> kinds(internal::AllKinds().begin(), internal::AllKinds().end());
  kinds.push_back(&kNoteKind);
  internal::Mirror mirror(*impl.engine, impl.location, impl.config, kinds);

  SaveNote(*impl.engine, MakeNote("n/1", "first"));
  SaveNote(*impl.engine, MakeNote("n2", "second"));
  mirror.Sync();

  // Read back through the codec: every column round-trips.
  std::optional<Note> got;
  const engine::Value key[] = {std::string_view("n/1")};
  impl.engine->Read([&](engine::ReadTxn& txn) { got = internal::GetRow<Note>(txn, key); });
  REQUIRE(got);
  CHECK(got->title == "first");
  CHECK(got->pinned == 1);
  CHECK(got->updated_at == "2025-09-20T17:03:12Z");
  std::vector<Note> all;
  impl.engine->Read([&](engine::ReadTxn& txn) { txn.Scan(kNotes, {}, false, internal::CollectInto(&all)); });
  REQUIRE(all.size() == 2);
  CHECK(all[0].note_id == "n/1");  // key order

  // Mirrored one file per row, the id encoded as every kind's is.
  const fs::path file = mirror.DocumentFile(kNoteKind, "n/1");
  CHECK(file == storage.location().dir / "notes" / "n%2F1.note.json");
  CHECK(ReadAll(file) == got->json);
  CHECK(mirror.Check().empty());

  // The check sees a changed file and a file no row accounts for.
  test::WriteAll(file, "{}");
  test::WriteAll(storage.location().dir / "notes" / "stray.note.json", "{}");
  const std::vector<MirrorProblem> problems = mirror.Check();
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].problem == "differs from the database");
  CHECK(problems[1].problem == "unexpected file (no row in the database)");

  // Regenerating rewrites the file and removes the stray.
  mirror.RegenerateAll();
  CHECK(ReadAll(file) == got->json);
  CHECK(!fs::exists(storage.location().dir / "notes" / "stray.note.json"));
  CHECK(mirror.Check().empty());

  // Deleting the row (and logging the change) removes its file.
  impl.engine->Write([&](engine::WriteTxn& txn) {
    CHECK(txn.Delete(kNotes, key));
    txn.LogChange(kNoteKind.change, "n/1");
  });
  mirror.Sync();
  CHECK(!fs::exists(file));
  CHECK(fs::exists(mirror.DocumentFile(kNoteKind, "n2")));

  // The ledger's text form of a key comes back as the typed key.
  CHECK(kNoteKind.key_from_text("n2", "").size() == 1);
  CHECK(internal::LedgerKeyText(internal::RowKey{std::string("job"), int64_t{7}}) ==
        std::pair<std::string, std::string>("job", "7"));
}

TEST_CASE("every built-in kind is found by its table, and an unknown table by none") {
  for (const internal::DocumentKind* k : internal::AllKinds()) {
    CHECK(internal::KindOfTable(k->table->name) == k);
  }
  CHECK(internal::KindOfTable("no_such_table") == nullptr);
  const internal::RowKey key = internal::kJobStateKind.key_from_text("job-1", "12");
  REQUIRE(key.size() == 2);
  CHECK(std::get<int64_t>(key[1]) == 12);
  CHECK_THROWS_AS(internal::kJobStateKind.key_from_text("job-1", "v12"), Error);
}

TEST_CASE("the engine tells a waiting reader about events appended by another connection") {
  Sandbox sb;
  GlobalStorage reader = sb.Open();
  engine::Engine& engine = *internal::ImplOf(reader).engine;
  CHECK(engine.WaitForEvents(0, std::chrono::milliseconds(20)) == 0);  // none: the timeout
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    GlobalStorage other = sb.Open();
    other.AppendEvent("job-1", test::EventJson(1));
  });
  const int64_t seq = engine.WaitForEvents(0, std::chrono::seconds(20));
  writer.join();
  CHECK(seq == 1);
  CHECK(engine.WaitForEvents(seq, std::chrono::milliseconds(20)) == seq);
}

}  // namespace
}  // namespace prodigy
