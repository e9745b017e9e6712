// S3 backup targets over libcurl, signed with its AWS SigV4 support
// (CURLOPT_AWS_SIGV4). Built only with -Ds3=enabled.
//
// Credentials and endpoint come from the standard variables only:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
// (else AWS_DEFAULT_REGION, else us-east-1), AWS_ENDPOINT_URL (a custom
// endpoint, addressed path-style: <endpoint>/<bucket>/<key>). Secrets are
// never part of a message or a log line.
#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

#include <fmt/format.h>

#include "backup/gzip.h"
#include "backup/target.h"
#include "prodigy/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace prodigy::internal {

namespace fs = std::filesystem;

namespace {

// One PUT holds at most 5 GiB (S3's limit); backups are compressed SQLite
// files, far smaller in practice. Larger ones are refused with this limit named.
constexpr int64_t kMaxSinglePut = 5LL * 1024 * 1024 * 1024;
constexpr int kAttempts = 4;
const char* const kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// RFC 3986 percent-encoding; '/' kept in paths.
std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  for (const unsigned char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (plain)
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string XmlUnescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += std::strlen(to))
      s.replace(p, std::strlen(from), to);
  }
  return s;
}

// Every <tag>text</tag> of a small XML document, in order.
std::vector<std::string> XmlValues(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t p = 0; (p = xml.find(open, p)) != std::string::npos;) {
    const size_t start = p + open.size();
    const size_t end = xml.find(close, start);
    if (end == std::string::npos) break;
    out.push_back(XmlUnescape(xml.substr(start, end - start)));
    p = end + close.size();
  }
  return out;
}

struct Response {
  long status = 0;
  std::string body;  // error bodies and small objects
  CURLcode curl = CURLE_OK;
  std::string curl_error;
};

class S3Target : public BackupTarget {
 public:
  explicit S3Target(const std::string& url) : url_(url) {
    std::string rest = url.substr(5);  // after "s3://"
    const size_t slash = rest.find('/');
    bucket_ = rest.substr(0, slash);
    if (slash != std::string::npos) prefix_ = rest.substr(slash + 1);
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
    if (bucket_.empty()) {
      throw Error::InvalidArgument(fmt::format("{}: no bucket; give s3://bucket/prefix", url));
    }
    key_id_ = Env("AWS_ACCESS_KEY_ID");
    secret_ = Env("AWS_SECRET_ACCESS_KEY");
    token_ = Env("AWS_SESSION_TOKEN");
    if (key_id_.empty() || secret_.empty()) {
      throw Error::Config(
          fmt::format("{}: S3 credentials are missing; set AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)",
                      url));
    }
    region_ = Env("AWS_REGION");
    if (region_.empty()) region_ = Env("AWS_DEFAULT_REGION");
    if (region_.empty()) region_ = "us-east-1";
    endpoint_ = Env("AWS_ENDPOINT_URL");
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
    // Custom endpoints (MinIO, s3rver, Ceph) get path-style addressing.
    base_ = endpoint_.empty() ? fmt::format("https://{}.s3.{}.amazonaws.com", bucket_, region_)
                              : fmt::format("{}/{}", endpoint_, bucket_);
    curl_global_init(CURL_GLOBAL_DEFAULT);
  }

  std::string Describe(const std::string& key) const override {
    return fmt::format("s3://{}/{}", bucket_, ObjectName(key));
  }

  void PutFile(const std::string& key, const fs::path& local) override {
    const FileDigest digest = DigestFile(local);
    if (digest.bytes > kMaxSinglePut) {
      throw Error::InvalidArgument(
          fmt::format("{}: {} bytes is more than one S3 upload may hold (5 GiB); back up to a folder",
                      Describe(key), digest.bytes));
    }
    Check(Send(
              "PUT", key, "", digest.sha256,
              [&](CURL* c, FILE** file) {
                *file = std::fopen(local.c_str(), "rb");
                if (*file == nullptr) ThrowIo("cannot read", local, errno);
                curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(c, CURLOPT_READDATA, *file);
                curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(digest.bytes));
              },
              nullptr),
          key, "upload");
  }

  void PutText(const std::string& key, std::string_view text) override {
    const std::string body(text);
    Check(Send(
              "PUT", key, "", Sha256Hex(body),
              [&](CURL* c, FILE**) {
                curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
              },
              nullptr),
          key, "upload");
  }

  std::optional<std::string> GetText(const std::string& key) override {
    Response r = Send("GET", key, "", kEmptySha256, nullptr, nullptr);
    if (r.status == 404 && !IsNoSuchBucket(r)) return std::nullopt;
    Check(r, key, "download");
    return std::move(r.body);
  }

  void GetFile(const std::string& key, const fs::path& local) override {
    Response r = Send("GET", key, "", kEmptySha256, nullptr, &local);
    if (r.status == 404 && !IsNoSuchBucket(r)) {
      throw Error::NotFound(fmt::format("{} does not exist", Describe(key)));
    }
    Check(r, key, "download");
  }

  std::vector<std::string> List(const std::string& prefix) override {
    std::vector<std::string> keys;
    const std::string full = ObjectName(prefix);
    std::string token;
    for (;;) {
      // Parameters in sorted order: SigV4 signs the canonical (sorted) query.
      std::string query;
      if (!token.empty()) query += "continuation-token=" + UriEncode(token, false) + "&";
      query += "list-type=2&prefix=" + UriEncode(full, false);
      Response r = Send("GET", "", query, kEmptySha256, nullptr, nullptr);
      Check(r, prefix, "list");
      for (const std::string& k : XmlValues(r.body, "Key")) {
        if (k.starts_with(full)) keys.push_back(prefix + k.substr(full.size()));
      }
      const auto truncated = XmlValues(r.body, "IsTruncated");
      const auto next = XmlValues(r.body, "NextContinuationToken");
      if (truncated.empty() || truncated[0] != "true" || next.empty()) break;
      token = next[0];
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void Remove(const std::string& key) override {
    Response r = Send("DELETE", key, "", kEmptySha256, nullptr, nullptr);
    if (r.status == 404) return;
    Check(r, key, "delete");
  }

 private:
  static bool IsNoSuchBucket(const Response& r) {
    const auto codes = XmlValues(r.body, "Code");
    return !codes.empty() && codes[0] == "NoSuchBucket";
  }

  std::string ObjectName(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "/" + key; }

  // One request with retries (5xx, timeouts, connection errors) and backoff.
  Response Send(const char* method, const std::string& key, const std::string& query,
                const std::string& payload_sha, const std::function<void(CURL*, FILE**)>& body,
                const fs::path* sink) {
    std::string url = base_;
    if (!key.empty()) url += "/" + UriEncode(ObjectName(key), true);
    if (!query.empty()) url += (key.empty() ? "/?" : "?") + query;
    Response r;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      r = SendOnce(method, url, payload_sha, body, sink);
      const bool transient = r.curl != CURLE_OK || r.status >= 500;
      if (!transient || attempt == kAttempts) break;
      Log().debug("{} {}: {}, retry {} of {}", method, Describe(key),
                  r.curl != CURLE_OK ? r.curl_error : fmt::format("HTTP {}", r.status), attempt,
                  kAttempts - 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(250 << (attempt - 1)));
    }
    return r;
  }

  Response SendOnce(const char* method, const std::string& url, const std::string& payload_sha,
                    const std::function<void(CURL*, FILE**)>& body, const fs::path* sink) {
    Response r;
    CURL* c = curl_easy_init();
    if (c == nullptr) throw Error::Internal("curl_easy_init failed");
    FILE* upload = nullptr;
    FILE* download = nullptr;
    curl_slist* headers = nullptr;
    char error[CURL_ERROR_SIZE] = {0};
    struct Cleanup {
      CURL* c;
      FILE** up;
      FILE** down;
      curl_slist** h;
      ~Cleanup() {
        if (*up) std::fclose(*up);
        if (*down) std::fclose(*down);
        curl_slist_free_all(*h);
        curl_easy_cleanup(c);
      }
    } cleanup{c, &upload, &download, &headers};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    // A stalled transfer (under 1 KiB/s for 30 s) counts as a timeout and is retried.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    const std::string sigv4 = fmt::format("aws:amz:{}:s3", region_);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(c, CURLOPT_USERNAME, key_id_.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, secret_.c_str());
    // libcurl 7.88 signs this header's value as the payload hash but does
    // not send it by itself; S3 requires it.
    headers = curl_slist_append(headers, ("x-amz-content-sha256: " + payload_sha).c_str());
    if (!token_.empty()) headers = curl_slist_append(headers, ("x-amz-security-token: " + token_).c_str());
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (std::string_view(method) == "DELETE") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    if (body) body(c, &upload);
    // Successful downloads stream to the file; everything else (errors,
    // small objects, listings) is collected in memory.
    struct Sink {
      Response* r;
      CURL* c;
      const fs::path* path;
      FILE** file;
    } out{&r, c, sink, &download};
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(
        c, CURLOPT_WRITEFUNCTION, +[](char* data, size_t, size_t n, void* user) -> size_t {
          Sink* s = static_cast<Sink*>(user);
          long status = 0;
          curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
          if (s->path && status == 200) {
            if (*s->file == nullptr) *s->file = std::fopen(s->path->c_str(), "wb");
            if (*s->file == nullptr || std::fwrite(data, 1, n, *s->file) != n) return 0;
            return n;
          }
          s->r->body.append(data, n);
          return n;
        });
    r.curl = curl_easy_perform(c);
    if (r.curl != CURLE_OK) r.curl_error = error[0] ? error : curl_easy_strerror(r.curl);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    if (download && std::fclose(download) != 0 && r.curl == CURLE_OK) {
      download = nullptr;
      ThrowIo("cannot write", *sink, errno);
    }
    download = nullptr;
    if (sink && r.curl == CURLE_OK && r.status == 200) {
      std::error_code ec;
      if (!fs::exists(*sink, ec)) AtomicWriteFile(*sink, "");  // an empty object
    }
    return r;
  }

  void Check(const Response& r, const std::string& key, std::string_view what) const {
    const std::string where = Describe(key);
    if (r.curl != CURLE_OK) {
      throw Error::Io(
          fmt::format("S3 {} of {} failed after {} attempts: {} (endpoint {}); check the "
                      "network and AWS_ENDPOINT_URL",
                      what, where, kAttempts, r.curl_error, Endpoint()));
    }
    if (r.status >= 200 && r.status < 300) return;
    const auto codes = XmlValues(r.body, "Code");
    const auto messages = XmlValues(r.body, "Message");
    const std::string code = codes.empty() ? fmt::format("HTTP {}", r.status) : codes[0];
    const std::string message = messages.empty() ? "" : ": " + messages[0];
    if (code == "NoSuchBucket") {
      throw Error(
          ErrorCode::kNotFound,
          fmt::format("S3 bucket {} does not exist at {}; create it or fix the URL", bucket_, Endpoint()));
    }
    if (r.status == 403 || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
        code == "AccessDenied") {
      throw Error(
          ErrorCode::kConfig,
          fmt::format("S3 {} of {} was refused ({}{}); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                      "AWS_SESSION_TOKEN and AWS_REGION (key id {})",
                      what, where, code, message, key_id_));
    }
    throw Error(
        r.status >= 500 ? ErrorCode::kIo : ErrorCode::kInvalidArgument,
        fmt::format("S3 {} of {} failed: {}{} (endpoint {})", what, where, code, message, Endpoint()));
  }

  std::string Endpoint() const { return endpoint_.empty() ? "AWS S3 " + region_ : endpoint_; }

  std::string url_, bucket_, prefix_, key_id_, secret_, token_, region_, endpoint_, base_;
};

}  // namespace

std::unique_ptr<BackupTarget> OpenS3Target(const std::string& url) { return std::make_unique<S3Target>(url); }

}  // namespace prodigy::internal
