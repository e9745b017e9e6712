// The row schema shared by every storage engine: each table's columns spelled
// once, with how a record's fields become column values and back.
//
// Extraction (store/rows.h) fills a record from a document; a Field table then
// turns the record into the column values an engine stores, and a row an
// engine read back into the record. Engines build their statements from the
// same tables, so every engine stores identical columns and no engine spells
// a column list, a positional index or a bind by hand.
//
// Engine-neutral on purpose: no SQL, no SQLite type.
#ifndef PRODIGY_ENGINE_SCHEMA_H_
#define PRODIGY_ENGINE_SCHEMA_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace prodigy::engine {

enum class ColumnType {
  kText,  // UTF-8 text; the empty string is stored as NULL unless the column is a key or `json`
  kInt,   // 64-bit integer (booleans are 0/1)
  kBlob,  // bytes, stored exactly
};

// A value passed to an engine. `const std::string*` borrows a field of the
// record being written, which outlives the statement (no copy on the hot
// path); string_view borrows an argument (keys); std::string holds a value
// computed for the write (e.g. a default timestamp).
using Value = std::variant<std::monostate, int64_t, std::string_view, std::string, const std::string*>;

inline bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }
inline std::string_view TextOf(const Value& v) {
  if (const auto* s = std::get_if<std::string_view>(&v)) return *s;
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* s = std::get_if<const std::string*>(&v)) return **s;
  return {};
}

struct Column {
  std::string_view name;
  ColumnType type = ColumnType::kText;
  // Assigned by the engine on insert (an event's seq): never written, always read.
  bool generated = false;
  // The empty string is stored as the empty string, not as NULL.
  bool keep_empty = false;
};

// One table as the engines see it.
struct TableSpec {
  std::string_view name;
  std::span<const Column> columns;
  // The first `key_columns` columns are the row's unique key (for tables with
  // a generated column, that column alone).
  size_t key_columns = 1;
  // The column a mirror folder (and "list the jobs") groups rows by: job_id,
  // session_id, workflow_id. Empty: not grouped.
  std::string_view group_column;
  // The column naming the import ledger row a row came from; empty: none.
  std::string_view source_column;

  size_t IndexOf(std::string_view column) const {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == column) return i;
    }
    return columns.size();
  }
};

// A row read by an engine, valid only while the callback that received it runs.
// Columns are addressed by their index in the TableSpec.
class RowView {
 public:
  virtual ~RowView() = default;
  virtual bool IsNull(size_t i) const = 0;
  virtual int64_t Int(size_t i) const = 0;
  // Text and blob columns; NULL reads as "".
  virtual std::string_view Text(size_t i) const = 0;

  std::optional<int64_t> OptInt(size_t i) const { return IsNull(i) ? std::nullopt : std::optional(Int(i)); }
};

// Where a written row came from (the import ledger), beside the record.
struct WriteOrigin {
  std::optional<int64_t> source_id;
  std::optional<int64_t> line_no;
};

// How one column is filled from a record of type R and read back into it.
template <class R>
struct Field {
  Column column;
  Value (*get)(const R& r, const WriteOrigin& origin) = nullptr;
  // nullptr: the column is not part of the record (e.g. source_id).
  void (*set)(R& r, const RowView& row, size_t i) = nullptr;
};

// The record's fields in the table's column order: the one place a table's
// columns are spelled. TableSpec::columns is built from it (see MakeColumns).
template <class R, size_t N>
struct RowCodec {
  std::array<Field<R>, N> fields;
  std::array<Column, N> columns;

  constexpr explicit RowCodec(std::array<Field<R>, N> f) : fields(f), columns() {
    for (size_t i = 0; i < N; ++i) columns[i] = fields[i].column;
  }

  // Column values of `r` in column order (generated columns are skipped by
  // the engine, their slot is NULL).
  template <class Out>
  void Values(const R& r, const WriteOrigin& origin, Out* out) const {
    for (size_t i = 0; i < N; ++i) (*out)[i] = fields[i].get ? fields[i].get(r, origin) : Value();
  }
  R Read(const RowView& row) const {
    R r{};
    for (size_t i = 0; i < N; ++i) {
      if (fields[i].set) fields[i].set(r, row, i);
    }
    return r;
  }
};

namespace field {

template <class M>
struct MemberOf;
template <class R, class T>
struct MemberOf<T R::*> {
  using Record = R;
  using Type = T;
};
template <auto M>
using RecordOf = typename MemberOf<decltype(M)>::Record;

// A text member; "" is written as NULL unless `keep_empty`.
template <auto M>
constexpr Field<RecordOf<M>> Text(std::string_view name, bool keep_empty = false) {
  using R = RecordOf<M>;
  return {Column{name, ColumnType::kText, false, keep_empty},
          [](const R& r, const WriteOrigin&) -> Value { return &(r.*M); },
          [](R& r, const RowView& row, size_t i) { r.*M = std::string(row.Text(i)); }};
}
// A text member that is never NULL when read back but may be absent (std::optional<std::string>).
template <auto M>
constexpr Field<RecordOf<M>> OptText(std::string_view name) {
  using R = RecordOf<M>;
  return {Column{name, ColumnType::kText},
          [](const R& r, const WriteOrigin&) -> Value { return (r.*M) ? Value(&*(r.*M)) : Value(); },
          [](R& r, const RowView& row, size_t i) {
            if (!row.IsNull(i)) r.*M = std::string(row.Text(i));
          }};
}
template <auto M>
constexpr Field<RecordOf<M>> Int(std::string_view name) {
  using R = RecordOf<M>;
  return {Column{name, ColumnType::kInt},
          [](const R& r, const WriteOrigin&) -> Value { return static_cast<int64_t>(r.*M); },
          [](R& r, const RowView& row, size_t i) {
            using T = typename MemberOf<decltype(M)>::Type;
            if constexpr (std::is_same_v<T, bool>) {
              r.*M = row.Int(i) != 0;
            } else {
              r.*M = static_cast<T>(row.Int(i));
            }
          }};
}
template <auto M>
constexpr Field<RecordOf<M>> OptInt(std::string_view name) {
  using R = RecordOf<M>;
  return {Column{name, ColumnType::kInt},
          [](const R& r, const WriteOrigin&) -> Value { return (r.*M) ? Value(*(r.*M)) : Value(); },
          [](R& r, const RowView& row, size_t i) { r.*M = row.OptInt(i); }};
}
// The engine-assigned sequence number (events.seq).
template <auto M>
constexpr Field<RecordOf<M>> Generated(std::string_view name) {
  using R = RecordOf<M>;
  return {Column{name, ColumnType::kInt, /*generated=*/true}, nullptr,
          [](R& r, const RowView& row, size_t i) { r.*M = row.Int(i); }};
}
// The origin's source_id / line_no (not part of the record).
template <class R>
constexpr Field<R> SourceId(std::string_view name = "source_id") {
  return {Column{name, ColumnType::kInt},
          [](const R&, const WriteOrigin& o) -> Value { return o.source_id ? Value(*o.source_id) : Value(); },
          nullptr};
}
template <class R>
constexpr Field<R> LineNo(std::string_view name = "line_no") {
  return {Column{name, ColumnType::kInt},
          [](const R&, const WriteOrigin& o) -> Value { return o.line_no ? Value(*o.line_no) : Value(); },
          nullptr};
}

}  // namespace field
}  // namespace prodigy::engine

#endif  // PRODIGY_ENGINE_SCHEMA_H_
