// A throw-away redis-server for one test: its own folder, a unix socket and
// no TCP port, no persistence; stopped (SIGTERM, then SIGKILL) at scope exit.
// The binary comes from PRODIGY_TEST_REDIS_SERVER (set by tests/meson.build).
#ifndef PRODIGY_TESTS_COORDINATION_REDIS_SERVER_H_
#define PRODIGY_TESTS_COORDINATION_REDIS_SERVER_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

namespace prodigy::test {

class RedisServer {
 public:
  explicit RedisServer(std::filesystem::path dir) : dir_(std::move(dir)) { Start(); }
  ~RedisServer() { Stop(SIGTERM); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string url() const { return "unix://" + socket().string(); }
  std::filesystem::path socket() const { return dir_ / "redis.sock"; }

  // The server dies at once, as in a crash or an OOM kill.
  void Kill() { Stop(SIGKILL); }
  // A fresh, empty server on the same socket (it keeps no data).
  void Start() {
    const char* binary = std::getenv("PRODIGY_TEST_REDIS_SERVER");
    if (binary == nullptr) throw std::runtime_error("PRODIGY_TEST_REDIS_SERVER is not set");
    std::filesystem::remove(socket());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open((dir_ / "redis.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      const std::string sock = socket().string();
      ::execl(binary, binary, "--port", "0", "--unixsocket", sock.c_str(), "--unixsocketperm", "700",
              "--save", "", "--appendonly", "no", "--dir", dir_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!Accepts()) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("redis-server did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  bool Accepts() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket().c_str(), sizeof(addr.sun_path) - 1);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
  }

  void Stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace prodigy::test

#endif  // PRODIGY_TESTS_COORDINATION_REDIS_SERVER_H_
