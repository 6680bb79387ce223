#pragma once

namespace radiolens {

/// Receives the progress of a long job and can cancel it.
///
/// `report` is called from one of the threads that run the job, never concurrently for one job,
/// with the fraction done in [0, 1]; returning false asks the job to stop as soon as it can.
/// Implementations must not assume a particular thread (the Qt adapter posts to the GUI).
class ProgressSink {
public:
    virtual ~ProgressSink() = default;
    virtual bool report(double fraction) = 0;
};

/// Reports nowhere and never cancels.
class NullProgress final : public ProgressSink {
public:
    bool report(double) override { return true; }
};

} // namespace radiolens
