#include "ui/SliceView.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace radiolens {

namespace {

QString letters(const Vec3& v) {
    return QString::fromStdString(orientationLetters(v));
}

} // namespace

SliceView::SliceView(QWidget* parent)
    : QWidget(parent) {
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(256, 256);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setContextMenuPolicy(Qt::PreventContextMenu); // the right button is for window/level
}

void SliceView::setVolume(std::shared_ptr<const Volume> volume, bool complete) {
    m_volume = std::move(volume);
    m_ready.assign(m_volume ? m_volume->size()[2] : 0, complete);
    m_failures.assign(m_ready.size(), QString());
    m_slice = sliceCount() / 2;
    m_windowChosen = false;
    if (complete) {
        markAllSlicesReady();
    }
    render();
    Q_EMIT sliceChanged(m_slice);
}

int SliceView::sliceCount() const {
    return m_volume ? int(m_volume->size()[2]) : 0;
}

bool SliceView::isSliceReady(int k) const {
    return k >= 0 && k < int(m_ready.size()) && m_ready[std::size_t(k)] &&
           m_failures[std::size_t(k)].isEmpty();
}

void SliceView::markSliceReady(int k) {
    if (k < 0 || k >= int(m_ready.size())) {
        return;
    }
    m_ready[std::size_t(k)] = true;
    if (k == m_slice) {
        render();
    }
}

void SliceView::markAllSlicesReady() {
    std::fill(m_ready.begin(), m_ready.end(), true);
    render();
}

void SliceView::markSliceFailed(int k, const QString& reason) {
    if (k < 0 || k >= int(m_failures.size())) {
        return;
    }
    m_failures[std::size_t(k)] = reason;
    if (k == m_slice) {
        render();
    }
}

void SliceView::setCurrentSlice(int k) {
    if (!m_volume) {
        return;
    }
    k = std::clamp(k, 0, sliceCount() - 1);
    if (k == m_slice) {
        return;
    }
    m_slice = k;
    render();
    Q_EMIT sliceChanged(m_slice);
}

void SliceView::setWindow(const DisplayWindow& window) {
    m_window = window;
    m_window.width = std::max(1.0, m_window.width);
    m_windowChosen = true;
    render();
    Q_EMIT windowChanged(m_window.center, m_window.width);
}

void SliceView::render() {
    if (!m_volume || !isSliceReady(m_slice)) {
        m_image = QImage();
        update();
        return;
    }
    if (!m_windowChosen) {
        // The file's preset, or one fitted to the first slice the reader sees.
        m_window = defaultWindow(*m_volume, std::size_t(m_slice));
        m_windowChosen = true;
        Q_EMIT windowChanged(m_window.center, m_window.width);
    }
    const RenderedSlice slice = renderSlice(*m_volume, std::size_t(m_slice), m_window);
    const QImage::Format format =
        slice.channels == 3 ? QImage::Format_RGB888 : QImage::Format_Grayscale8;
    m_image =
        QImage(slice.pixels.data(), slice.width, slice.height, slice.width * slice.channels, format)
            .copy();
    update();
}

QRectF SliceView::imageRect() const {
    if (!m_volume) {
        return {};
    }
    // True proportions: anisotropic pixels are shown at their physical aspect ratio.
    const double w = double(m_volume->size()[0]) * m_volume->spacing.x;
    const double h = double(m_volume->size()[1]) * m_volume->spacing.y;
    const double scale = std::min(double(width()) / w, double(height()) / h);
    const QSizeF size(w * scale, h * scale);
    return QRectF(QPointF((width() - size.width()) / 2.0, (height() - size.height()) / 2.0), size);
}

void SliceView::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), Qt::black);
    painter.setPen(QColor(230, 230, 230));
    if (!m_volume) {
        painter.drawText(rect(), Qt::AlignCenter,
                         tr("Open a study: File > Open Folder, or drop files here"));
        return;
    }
    const QRectF target = imageRect();
    if (!m_image.isNull()) {
        painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
        painter.drawImage(target, m_image);
    } else if (m_slice < int(m_failures.size()) && !m_failures[std::size_t(m_slice)].isEmpty()) {
        painter.drawText(rect().adjusted(20, 0, -20, 0), Qt::AlignCenter | Qt::TextWordWrap,
                         tr("Slice %1 could not be decoded:\n%2")
                             .arg(m_slice + 1)
                             .arg(m_failures[std::size_t(m_slice)]));
    } else {
        painter.drawText(rect(), Qt::AlignCenter, tr("Loading slice %1...").arg(m_slice + 1));
    }

    const QFontMetrics metrics(font());
    const int line = metrics.height();
    const int margin = 6;
    // Top left: what is shown.
    painter.drawText(margin, margin + line,
                     QString::fromStdString(m_volume->modality + "  " + m_volume->description));
    // Bottom left: where we are and how it is windowed.
    QString position;
    if (!m_volume->slicePositions.empty() && m_slice < int(m_volume->slicePositions.size())) {
        const Vec3& p = m_volume->slicePositions[std::size_t(m_slice)];
        position = tr("  %1 mm").arg(dot(p, m_volume->direction.k), 0, 'f', 2);
    }
    painter.drawText(margin, height() - margin - line,
                     tr("Slice %1 / %2").arg(m_slice + 1).arg(sliceCount()) + position);
    if (m_volume->format().components == 1) {
        painter.drawText(
            margin, height() - margin,
            tr("W %1  L %2").arg(m_window.width, 0, 'f', 0).arg(m_window.center, 0, 'f', 0) +
                (m_volume->photometric == Photometric::Monochrome1 ? tr("  (inverted)")
                                                                   : QString()));
    }
    // Orientation letters on the edges of the image.
    if (m_volume->geometry.hasPatientGeometry || m_volume->direction.i != Vec3{1, 0, 0} ||
        m_volume->direction.j != Vec3{0, 1, 0}) {
        const Vec3& i = m_volume->direction.i;
        const Vec3& j = m_volume->direction.j;
        const QRectF r = target.intersected(QRectF(rect()));
        painter.drawText(QRectF(r.right() - 40, r.center().y() - line, 36, 2 * line),
                         Qt::AlignRight | Qt::AlignVCenter, letters(i));
        painter.drawText(QRectF(r.left() + 4, r.center().y() - line, 36, 2 * line),
                         Qt::AlignLeft | Qt::AlignVCenter, letters(i * -1.0));
        painter.drawText(QRectF(r.center().x() - 20, r.top() + 2, 40, line),
                         Qt::AlignHCenter | Qt::AlignTop, letters(j * -1.0));
        painter.drawText(QRectF(r.center().x() - 20, r.bottom() - line - 2, 40, line),
                         Qt::AlignHCenter | Qt::AlignBottom, letters(j));
    }
}

void SliceView::wheelEvent(QWheelEvent* event) {
    const int steps = event->angleDelta().y() / 120;
    if (steps != 0) {
        setCurrentSlice(m_slice - steps);
    }
    event->accept();
}

void SliceView::keyPressEvent(QKeyEvent* event) {
    switch (event->key()) {
    case Qt::Key_Up:
    case Qt::Key_Right:
        setCurrentSlice(m_slice + 1);
        break;
    case Qt::Key_Down:
    case Qt::Key_Left:
        setCurrentSlice(m_slice - 1);
        break;
    case Qt::Key_PageUp:
        setCurrentSlice(m_slice + std::max(1, sliceCount() / 10));
        break;
    case Qt::Key_PageDown:
        setCurrentSlice(m_slice - std::max(1, sliceCount() / 10));
        break;
    case Qt::Key_Home:
        setCurrentSlice(0);
        break;
    case Qt::Key_End:
        setCurrentSlice(sliceCount() - 1);
        break;
    default:
        QWidget::keyPressEvent(event);
        return;
    }
    event->accept();
}

void SliceView::mousePressEvent(QMouseEvent* event) {
    if (event->button() == Qt::RightButton && m_volume) {
        m_dragging = true;
        m_dragStart = event->position();
        m_dragWindow = m_window;
        event->accept();
        return;
    }
    QWidget::mousePressEvent(event);
}

void SliceView::mouseMoveEvent(QMouseEvent* event) {
    if (!m_dragging) {
        QWidget::mouseMoveEvent(event);
        return;
    }
    const QPointF d = event->position() - m_dragStart;
    DisplayWindow w = m_dragWindow;
    w.width = std::max(1.0, m_dragWindow.width + d.x() * kWindowPerPixel);
    w.center = m_dragWindow.center + d.y() * kWindowPerPixel;
    setWindow(w);
    event->accept();
}

void SliceView::mouseReleaseEvent(QMouseEvent* event) {
    if (event->button() == Qt::RightButton) {
        m_dragging = false;
        event->accept();
        return;
    }
    QWidget::mouseReleaseEvent(event);
}

} // namespace radiolens
