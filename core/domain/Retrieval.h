#pragma once

#include <cstdint>
#include <string>

namespace radiolens {

/// A study retrieved (or being retrieved) from a remote node.
struct Retrieval {
    enum class State { Retrieving, Complete, Incomplete, Cancelled };
    std::string studyInstanceUid;
    std::string node;   ///< AET@HOST:PORT
    std::string folder; ///< where its files are: folder/StudyInstanceUID/
    State state = State::Retrieving;
    int expected = 0;  ///< instances the remote listed
    int present = 0;   ///< instances on disk
    std::string error; ///< why the last attempt stopped; empty when it did not fail
    std::int64_t updatedMs = 0;

    /// Some instances are missing: cut off, cancelled, or the process died while retrieving.
    bool incomplete() const { return state != State::Complete; }
};

const char* toString(Retrieval::State state); ///< "retrieving", "complete", ...

} // namespace radiolens
