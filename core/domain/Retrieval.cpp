#include "core/domain/Retrieval.h"

namespace radiolens {

const char* toString(Retrieval::State state) {
    switch (state) {
    case Retrieval::State::Retrieving:
        return "retrieving";
    case Retrieval::State::Complete:
        return "complete";
    case Retrieval::State::Incomplete:
        return "incomplete";
    case Retrieval::State::Cancelled:
        return "cancelled";
    }
    return "incomplete";
}

} // namespace radiolens
