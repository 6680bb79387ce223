#include "ui/ViewportFrame.h"

#include "ui/Viewport.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QHBoxLayout>
#include <QMimeData>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QTimer>

#include <algorithm>
#include <cmath>

namespace radiolens {

const char* const ViewportFrame::kSeriesMimeType = "application/x-radiolens-series";

ViewportFrame::ViewportFrame(QWidget* parent)
    : QFrame(parent) {
    setAcceptDrops(true);
    setFrameShape(QFrame::Box);
    setLineWidth(1);
    m_viewport = new Viewport(this);
    m_slider = new QScrollBar(Qt::Vertical, this);
    m_slider->setToolTip(tr("Slice"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(1, 1, 1, 1);
    layout->setSpacing(0);
    layout->addWidget(m_viewport, 1);
    layout->addWidget(m_slider);
    m_cine = new QTimer(this);
    setCineFps(m_fps);
    connect(m_cine, &QTimer::timeout, this, [this] {
        const int n = m_viewport->sliceCount();
        if (n > 0) {
            m_viewport->setCurrentSlice((m_viewport->currentSlice() + 1) % n);
        }
    });
    connect(m_viewport, &Viewport::sliceChanged, this, &ViewportFrame::updateSlider);
    connect(m_slider, &QScrollBar::valueChanged, m_viewport, &Viewport::setCurrentSlice);
    connect(m_viewport, &Viewport::activated, this, &ViewportFrame::activated);
    setActive(false);
}

void ViewportFrame::updateSlider() {
    const QSignalBlocker block(m_slider);
    m_slider->setRange(0, std::max(0, m_viewport->sliceCount() - 1));
    m_slider->setPageStep(std::max(1, m_viewport->sliceCount() / 10));
    m_slider->setValue(m_viewport->currentSlice());
    m_slider->setVisible(m_viewport->sliceCount() > 1);
}

void ViewportFrame::setActive(bool active) {
    m_active = active;
    QPalette p = palette();
    p.setColor(QPalette::WindowText, active ? QColor(60, 160, 255) : QColor(60, 60, 60));
    setPalette(p);
    setLineWidth(active ? 2 : 1);
}

void ViewportFrame::setCinePlaying(bool playing) {
    if (playing && m_viewport->sliceCount() > 1) {
        m_cine->start();
    } else {
        m_cine->stop();
    }
}

bool ViewportFrame::isCinePlaying() const {
    return m_cine->isActive();
}

void ViewportFrame::setCineFps(double fps) {
    m_fps = std::clamp(fps, 1.0, 60.0);
    m_cine->setInterval(int(std::lround(1000.0 / m_fps)));
}

void ViewportFrame::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasFormat(QString::fromLatin1(kSeriesMimeType))) {
        event->acceptProposedAction();
    }
}

void ViewportFrame::dropEvent(QDropEvent* event) {
    const QStringList parts =
        QString::fromUtf8(event->mimeData()->data(QString::fromLatin1(kSeriesMimeType)))
            .split(QLatin1Char('\n'));
    if (parts.isEmpty() || parts.front().isEmpty()) {
        return;
    }
    event->acceptProposedAction();
    Q_EMIT activated();
    Q_EMIT seriesDropped(parts.front(), parts.size() > 1 ? parts.at(1) : QString());
}

} // namespace radiolens
