#pragma once

// Types that cross threads in queued signals.

#include "core/domain/StudyIndex.h"
#include "core/imaging/Volume.h"

#include <QMetaType>

#include <memory>

Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::StudyIndex>)
Q_DECLARE_METATYPE(std::shared_ptr<const radiolens::Volume>)
Q_DECLARE_METATYPE(std::vector<radiolens::Problem>)

namespace radiolens {
/// Registers the types above with Qt's meta-type system; call once before connecting.
void registerTaskMetatypes();
} // namespace radiolens
