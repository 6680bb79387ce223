#include "ui/ViewerArea.h"

#include "ui/Viewport.h"
#include "ui/ViewportFrame.h"

#include <QGridLayout>

namespace radiolens {

ViewerArea::ViewerArea(QWidget* parent)
    : QWidget(parent) {
    m_grid = new QGridLayout(this);
    m_grid->setContentsMargins(0, 0, 0, 0);
    m_grid->setSpacing(2);
    for (int i = 0; i < 4; ++i) {
        auto* frame = new ViewportFrame(this);
        m_all << frame;
        connect(frame, &ViewportFrame::activated, this, [this, frame] { setActiveFrame(frame); });
        connect(frame, &ViewportFrame::seriesDropped, this,
                [this, frame](const QString& uid, const QString& image) {
                    Q_EMIT seriesDropped(frame, uid, image);
                });
    }
    setActiveFrame(m_all.front());
    arrange();
}

QList<ViewportFrame*> ViewerArea::frames() const {
    const int count = m_layout == Layout::One ? 1 : m_layout == Layout::OneByTwo ? 2 : 4;
    return m_all.mid(0, count);
}

void ViewerArea::setViewLayout(Layout layout) {
    if (m_mpr && layout != Layout::TwoByTwo) {
        setMprMode(false);
    }
    m_layout = layout;
    arrange();
    if (!frames().contains(m_active)) {
        setActiveFrame(m_all.front());
    }
    Q_EMIT layoutChanged();
}

void ViewerArea::arrange() {
    for (ViewportFrame* frame : m_all) {
        m_grid->removeWidget(frame);
        frame->hide();
    }
    const QList<ViewportFrame*> shown = frames();
    for (int i = 0; i < shown.size(); ++i) {
        const int columns = m_layout == Layout::One ? 1 : 2;
        m_grid->addWidget(shown[i], i / columns, i % columns);
        shown[i]->show();
    }
}

void ViewerArea::setActiveFrame(ViewportFrame* frame) {
    if (frame == m_active) {
        return;
    }
    if (m_active) {
        m_active->setActive(false);
    }
    m_active = frame;
    m_active->setActive(true);
    Q_EMIT activeFrameChanged(frame);
}

bool ViewerArea::setMprMode(bool on) {
    if (on == m_mpr) {
        return true;
    }
    if (!on) {
        linkMpr(false);
        m_mpr = false;
        for (ViewportFrame* frame : m_all) {
            frame->viewport()->setCrosshairEnabled(false);
        }
        m_all[0]->viewport()->setPlane(PlaneKind::Native);
        Q_EMIT layoutChanged();
        return true;
    }
    Viewport* source = m_active->viewport();
    const auto volume = source->volume();
    // Reformats need every slice: MPR waits until the series has loaded.
    if (!volume || volume->size()[2] < 2 || !source->isComplete()) {
        return false;
    }
    const QString key = source->key();
    const DisplayWindow window = source->window();
    m_mpr = true;
    m_layout = Layout::TwoByTwo;
    arrange();
    const PlaneKind planes[4] = {PlaneKind::Axial, PlaneKind::Coronal, PlaneKind::Sagittal,
                                 PlaneKind::Native};
    for (int i = 0; i < 4; ++i) {
        Viewport* v = m_all[i]->viewport();
        if (v->volume() != volume) {
            v->setVolume(volume, true, key);
        }
        v->setPlane(planes[i]);
        v->setWindow(window);
        v->setCrosshairEnabled(i < 3);
    }
    // Start the crosshair in the middle of the volume.
    const auto& size = volume->size();
    const Vec3 centre = volume->indexToPoint(
        (double(size[0]) - 1) / 2.0, (double(size[1]) - 1) / 2.0, (double(size[2]) - 1) / 2.0);
    for (int i = 0; i < 3; ++i) {
        m_all[i]->viewport()->setCrosshair(centre, true);
    }
    linkMpr(true);
    setActiveFrame(m_all[0]);
    Q_EMIT layoutChanged();
    return true;
}

void ViewerArea::linkMpr(bool on) {
    for (const auto& c : m_mprLinks) {
        disconnect(c);
    }
    m_mprLinks.clear();
    if (!on) {
        return;
    }
    for (int i = 0; i < 3; ++i) {
        Viewport* from = m_all[i]->viewport();
        // Moving the crosshair in one view shows, in the others, the slices through that point.
        m_mprLinks << connect(from, &Viewport::crosshairMoved, this, [this, from](const Vec3& p) {
            for (int j = 0; j < 3; ++j) {
                Viewport* to = m_all[j]->viewport();
                if (to != from) {
                    to->setCrosshair(p, true);
                }
            }
        });
        // Scrolling one view moves the crosshair along its normal; the others redraw the lines.
        m_mprLinks << connect(from, &Viewport::sliceChanged, this, [this, from](int) {
            if (m_syncing || !from->crosshair()) {
                return;
            }
            m_syncing = true;
            for (int j = 0; j < 3; ++j) {
                Viewport* to = m_all[j]->viewport();
                if (to != from) {
                    to->setCrosshair(*from->crosshair(), false);
                }
            }
            m_syncing = false;
        });
        // One window for the three views.
        m_mprLinks << connect(from, &Viewport::windowChanged, this,
                              [this, from](double c, double w) {
                                  if (m_syncing) {
                                      return;
                                  }
                                  m_syncing = true;
                                  for (int j = 0; j < 3; ++j) {
                                      Viewport* to = m_all[j]->viewport();
                                      if (to != from) {
                                          to->setWindow({c, w});
                                      }
                                  }
                                  m_syncing = false;
                              });
    }
}

} // namespace radiolens
