#pragma once

#include "core/domain/Geometry.h"

#include <QList>
#include <QWidget>

class QGridLayout;

namespace radiolens {

class ViewportFrame;

/// The viewports in a 1x1, 1x2 or 2x2 layout, one of them active (it gets the menu's commands),
/// and the MPR mode: the active volume in axial, coronal and sagittal views linked by a
/// crosshair (clicking or dragging in one moves the others to the slices through that point;
/// the window follows across the three). GUI thread only.
class ViewerArea : public QWidget {
    Q_OBJECT
public:
    enum class Layout { One, OneByTwo, TwoByTwo };

    explicit ViewerArea(QWidget* parent = nullptr);

    void setViewLayout(Layout layout);
    Layout viewLayout() const { return m_layout; }
    /// Viewports in the current layout, in reading order.
    QList<ViewportFrame*> frames() const;
    ViewportFrame* activeFrame() const { return m_active; }
    void setActiveFrame(ViewportFrame* frame);

    /// MPR: the active viewport's volume in axial, coronal and sagittal viewports (2x2 layout,
    /// the fourth shows the native slices). False when there is no volume with several slices
    /// or it has not loaded completely.
    bool setMprMode(bool on);
    bool mprMode() const { return m_mpr; }

Q_SIGNALS:
    void activeFrameChanged(radiolens::ViewportFrame* frame);
    void seriesDropped(radiolens::ViewportFrame* frame, const QString& seriesUid,
                       const QString& imagePath);
    void layoutChanged();

private:
    void arrange();
    void linkMpr(bool on);

    QList<ViewportFrame*> m_all; ///< four frames, created once
    QGridLayout* m_grid = nullptr;
    Layout m_layout = Layout::One;
    ViewportFrame* m_active = nullptr;
    bool m_mpr = false;
    bool m_syncing = false; ///< guards the MPR links against feeding back
    QList<QMetaObject::Connection> m_mprLinks;
};

} // namespace radiolens
